// Package config reads a unit's device configuration from YAML: the Modbus gateways, the MQTT
// broker, the pin server (for GPIO lines that live in another process, such as the HIL rig), the
// site section (what the controller knows that devices do not report: battery ratings, SoC limits
// and reserve, grid limits, nominal voltage and frequency, stale limit), and every device with its
// protocol, address or unit id, polling schedule, topic mapping or pins, and the roles it plays for
// the controller (pv, battery, meter, ev, pcc, load0..load2 and their load<k>_power meters,
// grid_present, door, fault). MQTT devices add pv_rated_w (required for role pv unless a pv.rated
// topic is mapped), vebus_instance and keepalive (victron) and publish_interval (opendtu), from
// which the presets' stale limits follow. The optional market section (market.go) sets the unit's
// market interval, horizon and method, tariffs, load values and battery and PV costs. Every error names the file, the line and the field, and says what is
// accepted. The fields of a registered driver's device (der.Register: hostapd, storagenode) are
// decoded into and checked by that driver's own config (drivers.go).
//
// telemetry.go adds the operations part, in a unit file or on its own (LoadOperations, for the
// simulated unit): data_dir (the state file's directory) and the telemetry section (InfluxDB, MQTT
// with Home Assistant discovery, Prometheus on or off, how often state is written).
//
// It validates and describes; it must not open connections (wiring lives with the runtime,
// firmware.OpenDevices).
package config
