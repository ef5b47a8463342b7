// Package mqtt integrates devices that speak MQTT (Victron Venus OS, OpenDTU and similar) over
// github.com/eclipse/paho.mqtt.golang: a configurable mapping of telemetry topics and JSON fields
// to device points and of commands to topics, presets for Venus OS and OpenDTU, reconnection with
// back-off, QoS 1 commands that are never retained, stale detection when a topic goes quiet,
// plausibility bands per point (plausible.go: an impossible value or a boolean where a number
// belongs reads as der.ErrImplausible), and adapters to the der interfaces. It also embeds a broker (mochi-mqtt) for setups without one.
//
// It is the `mqtt` driver of the unit file (driver.go, der.Register): DriverConfig (preset,
// portal_id, serial, topics, fields, commands, pv_rated_w ...) checks point and command names,
// builds the Mapping and opens the device on the unit's broker; it lends its connection and its
// load.power reading (der.SharedLoadMeter) to a relay's circuit, and claims its command topics.
//
// It must not make control decisions.
package mqtt
