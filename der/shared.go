package der

import "fmt"

// The kinds of shared resource a driver may ask its Env for, by the name the unit file gives them.
// Several devices use one of each (devices behind one Modbus gateway, loads switched by relays
// whose interlocks refer to each other), so each is opened once and lent out; the value is the
// concrete type of the package that speaks the link, which the driver asserts.
const (
	// The unit's own, from sections of the unit file.
	SharedModbusGateway = "modbus-gateway" // *modbus.Gateway: a gateways[] entry
	SharedMQTTBroker    = "mqtt-broker"    // mqtt.Connection: the mqtt: section (name "")
	SharedPinServer     = "pin-server"     // *gpio.Remote: the unit file's pin_server (name "")
	// Lent by devices under their names (Opened.Shares).
	SharedMQTT      = "mqtt"       // *mqtt.Device: an mqtt device's connection
	SharedRelay     = "relay"      // *gpio.Relay: a gpio relay device
	SharedLoadMeter = "load-meter" // der.LoadMeter: a device that measures a load circuit
)

// UnitShared reports whether kind is a resource of the unit itself (a section of the unit file)
// rather than one a device lends.
func UnitShared(kind string) bool {
	return kind == SharedModbusGateway || kind == SharedMQTTBroker || kind == SharedPinServer
}

// Lends reports whether kind is one devices lend each other (Opened.Shares).
func Lends(kind string) bool {
	return kind == SharedMQTT || kind == SharedRelay || kind == SharedLoadMeter
}

// Resource returns the shared resource of kind with the unit file's name, or an error saying which
// is missing (a driver's Open returns it, so the unit reports the device that asked).
func (e Env) Resource(kind, name string) (any, error) {
	if e.Shared == nil {
		return nil, fmt.Errorf("%s %q: the unit lends no shared resources", kind, name)
	}
	return e.Shared(kind, name)
}
