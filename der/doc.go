// Package der is the device layer: the small interfaces through which the controller reads and
// commands distributed energy resources (PV inverters, batteries, meters, switched loads, EV chargers,
// relays) and the unit's own services (AccessPoint, StorageNode), the plausibility bounds a reading
// must meet (ErrImplausible), and, in sub-packages, the drivers that speak real protocols (SunSpec
// and register maps over Modbus TCP and RTU, MQTT, GPIO, hostapd's control interface, the IGFS
// storage node's HTTP API) and the device templates. Drivers that own their part of the unit file
// register themselves by protocol name (Register: a DriverConfig that checks itself and opens der
// interfaces; Role names what a device plays; Env.Resource lends them the gateways, MQTT connections,
// relays and pin server the unit opened once); hostapd and storagenode do today. It knows nothing of control decisions, and imports only internal packages and its drivers'
// protocol libraries.
package der
