package config

import (
	"strings"
	"testing"
)

// The defects a probe of hostile unit files found: each of these was accepted.
func TestProbeDefectsAreRefused(t *testing.T) {
	for _, c := range []struct {
		name, file, want string
	}{
		{"shared relay pin", "name: u\ndevices:\n" +
			"  - {name: pcc, protocol: gpio, roles: [pcc], pins: {relay: PCC_COIL}}\n" +
			"  - {name: storage, protocol: gpio, roles: [load2], pins: {relay: PCC_COIL}}\n",
			`u.yaml:4: devices[1].pins.relay: pin "PCC_COIL" already used by devices[0] (pcc.relay)`},
		{"relay pin reused as feedback", "name: u\ndevices:\n" +
			"  - {name: pcc, protocol: gpio, roles: [pcc], pins: {relay: A, feedback: A}}\n",
			`devices[0].pins.relay: pin "A" already used by devices[0] (pcc.feedback)`},
		{"gateway port 99999", "name: u\ngateways:\n  - {name: g, protocol: modbus-tcp, address: '127.0.0.1:99999'}\n" +
			"devices:\n  - {name: inv, protocol: sunspec, roles: [pv], gateway: g, unit: 1}\n",
			`u.yaml:3: gateways[0].address: "127.0.0.1:99999": port 99999 outside 1..65535`},
		{"gateway port 0", "name: u\ngateways:\n  - {name: g, protocol: modbus-tcp, address: 'h:0'}\n" +
			"devices:\n  - {name: inv, protocol: sunspec, roles: [pv], gateway: g, unit: 1}\n",
			`gateways[0].address: "h:0": port 0 outside 1..65535`},
		{"gateway port by name", "name: u\ngateways:\n  - {name: g, protocol: modbus-tcp, address: 'h:modbus'}\n" +
			"devices:\n  - {name: inv, protocol: sunspec, roles: [pv], gateway: g, unit: 1}\n",
			`gateways[0].address: "h:modbus": port "modbus" is not a number`},
		{"broker port", "name: u\nmqtt: {broker: 'tcp://h:70000'}\ndevices:\n  - {name: m, protocol: mqtt, roles: [meter], preset: victron, portal_id: x}\n",
			`u.yaml:2: mqtt.broker: "tcp://h:70000": port 70000 outside 1..65535`},
		{"pin server port", "name: u\npin_server: {address: 'h:-1'}\ndevices:\n  - {name: pcc, protocol: gpio, roles: [pcc], pins: {relay: A}}\n",
			`u.yaml:2: pin_server.address: "h:-1": port -1 outside 1..65535`},
		{"null device entry", "name: u\ndevices:\n  - {name: pcc, protocol: gpio, roles: [pcc], pins: {relay: A}}\n  -\n",
			`u.yaml:4: devices[1]: empty entry`},
		{"null device entry written out", "name: u\ndevices:\n  - null\n  - {name: pcc, protocol: gpio, roles: [pcc], pins: {relay: A}}\n",
			`u.yaml:3: devices[0]: empty entry`},
		{"null gateway entry", "name: u\ngateways: [~]\ndevices:\n  - {name: pcc, protocol: gpio, roles: [pcc], pins: {relay: A}}\n",
			`u.yaml:2: gateways[0]: empty entry`},
	} {
		_, err := Parse("u.yaml", strings.NewReader(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v\nwant %s", c.name, err, c.want)
		}
	}
}
