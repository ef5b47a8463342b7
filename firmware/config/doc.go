// Package config reads a unit's device configuration from YAML: the Modbus gateways, the MQTT
// broker, and every device with its protocol, address or unit id, polling schedule, topic mapping
// or pins, and the roles it plays for the controller (pv, battery, meter, pcc, loads). Every error
// names the file, the line and the field, and says what is accepted.
//
// It validates and describes; it must not open connections (wiring lives with the runtime).
package config
