package der

import "fmt"

// The kinds of shared resource a driver may ask its Env for, by the name the unit file gives them.
// Several devices use one of each (devices behind one Modbus gateway, loads switched by relays
// whose interlocks refer to each other), so the unit opens them once and lends them out; the value
// is the concrete type of the package that speaks the link, which the driver asserts.
const (
	SharedModbusGateway = "modbus-gateway" // *modbus.Gateway: a gateways[] entry
	SharedMQTT          = "mqtt"           // *mqtt.Device: an mqtt device's connection
	SharedRelay         = "relay"          // *gpio.Relay: a gpio relay device
	SharedPinServer     = "pin-server"     // *gpio.Remote: the unit file's pin_server (name "")
)

// Resource returns the shared resource of kind with the unit file's name, or an error saying which
// is missing (a driver's Open returns it, so the unit reports the device that asked).
func (e Env) Resource(kind, name string) (any, error) {
	if e.Shared == nil {
		return nil, fmt.Errorf("%s %q: the unit lends no shared resources", kind, name)
	}
	return e.Shared(kind, name)
}
