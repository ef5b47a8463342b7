// Package config reads a unit's device configuration from YAML: the Modbus gateways, the MQTT
// broker, the pin server (for GPIO lines that live in another process, such as the HIL rig), the
// site section (what the controller knows that devices do not report: battery ratings, SoC limits
// and reserve, grid limits, nominal voltage and frequency, stale limit), and every device entry.
// An entry's common fields are name, protocol, roles (typed der.Role: pv, battery, meter, ev, pcc,
// load0..load2 and their load<k>_power meters, grid_present, door, fault, access_point,
// storage_node), stale_after and template; every other field belongs to the driver its protocol
// names (der.Register; drivers.go imports them all: sunspec, regmap, mqtt, gpio, hostapd,
// storagenode), which decodes and checks them (devices.go). A template (der/templates) supplies its
// protocol and driver fields at the YAML-node level before the driver decodes: its defaults where
// the entry has none, its fixed fields (a register map) which the entry may not bring. Checks across
// the whole file are generic: a resource an entry uses (der.Use: a gateway, the broker section,
// another device's relay or load meter) must exist, and no two entries may claim one thing
// (der.Claim: a GPIO line, a register set-point, a command topic). The optional market section (market.go) sets the unit's
// market interval, horizon and method, tariffs, load values and battery and PV costs. Every error names the file, the line and the field, and says what
// is accepted.
//
// telemetry.go adds the operations part, in a unit file or on its own (LoadOperations, for the
// simulated unit): data_dir (the state file's directory) and the telemetry section (InfluxDB, MQTT
// with Home Assistant discovery, Prometheus on or off, how often state is written).
//
// It validates and describes; it must not open connections (wiring lives with the runtime,
// firmware.OpenDevices).
package config
