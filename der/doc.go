// Package der is the device layer: the small interfaces through which the controller reads and
// commands distributed energy resources (PV inverters, batteries, meters, switched loads, EV chargers,
// relays), and, in sub-packages, the drivers that speak real protocols (SunSpec over Modbus, MQTT,
// GPIO). It knows nothing of control decisions, and imports only internal packages and its drivers'
// protocol libraries.
package der
