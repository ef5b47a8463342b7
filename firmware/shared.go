package firmware

import (
	"fmt"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/mqtt"
)

// shared lends a driver what the unit opened once for several devices (a Modbus gateway, the MQTT
// broker's settings, the pin server) and what a device lends others under its name (an MQTT
// connection, a relay, a load meter: Opened.Shares, there once that device is open).
func (b *builder) shared(kind, name string) (any, error) {
	var found any
	switch kind {
	case der.SharedModbusGateway:
		if g := b.gateways[name]; g != nil {
			found = g
		}
	case der.SharedMQTTBroker:
		if m := b.u.MQTT; m != nil {
			found = mqtt.Connection{Broker: m.Broker, ClientID: m.ClientID, Username: m.Username, Password: m.Password}
		}
	case der.SharedPinServer:
		if b.hw.remote != nil {
			found = b.hw.remote
		}
	default:
		res, ok := b.lent[kind+"/"+name]
		if !ok && !der.Lends(kind) {
			return nil, fmt.Errorf("%s %q: no such kind of shared resource", kind, name)
		}
		found = res
	}
	if found == nil {
		return nil, fmt.Errorf("%s %q: not in the unit file", kind, name)
	}
	return found, nil
}
