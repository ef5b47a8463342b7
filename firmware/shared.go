package firmware

import (
	"fmt"

	"github.com/fractals-energy/fractals/der"
)

// shared lends a registered driver what the unit opened once for several devices: a Modbus
// gateway, an MQTT device's connection, a relay, the pin server. Gateways, relays and MQTT devices
// are built before the registered drivers' devices (builder.build), so each is there to lend.
func (b *builder) shared(kind, name string) (any, error) {
	var found any
	switch kind {
	case der.SharedModbusGateway:
		if g := b.gateways[name]; g != nil {
			found = g
		}
	case der.SharedMQTT:
		if m := b.mqtts[name]; m != nil {
			found = m
		}
	case der.SharedRelay:
		if r := b.relays[name]; r != nil {
			found = r
		}
	case der.SharedPinServer:
		if b.hw.remote != nil {
			found = b.hw.remote
		}
	default:
		return nil, fmt.Errorf("%s %q: no such kind of shared resource", kind, name)
	}
	if found == nil {
		return nil, fmt.Errorf("%s %q: not in the unit file", kind, name)
	}
	return found, nil
}
