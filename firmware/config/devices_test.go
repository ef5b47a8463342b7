package config

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The whole-file checks come from what drivers declare (der.Use, der.Offerer, der.Claim), so they
// hold across drivers, and a template's fixed fields cannot be overridden.
func TestUsesAndClaimsAcrossDrivers(t *testing.T) {
	const head = "name: u\ngateways:\n  - {name: lan, protocol: modbus-tcp, address: '127.0.0.1:502'}\nmqtt: {broker: 'tcp://127.0.0.1:1883'}\ndevices:\n"
	for _, c := range []struct{ devs, want string }{
		{"  - {name: a, protocol: sunspec, roles: [pv], gateway: lan, unit: 1}\n  - {name: b, template: sunspec-hybrid, roles: [battery], gateway: lan}\n",
			`u.yaml:7: devices[1].unit: the SunSpec controls of unit 1 on lan already used by devices[0] (a.controls)`},
		{"  - {name: door, protocol: gpio, roles: [door], pins: {input: GPIO4}}\n  - {name: l, protocol: gpio, roles: [load0], pins: {relay: GPIO5}, meter: door}\n",
			`u.yaml:7: devices[1].meter: "door" measures no load circuit`},
		{"  - {name: m, protocol: mqtt, roles: [meter], topics: {meter.power: p, meter.voltage: v, meter.frequency: f}}\n  - {name: l, protocol: gpio, roles: [load0], pins: {relay: GPIO5}, interlock: m}\n",
			`u.yaml:7: devices[1].interlock: "m" is not a gpio relay`},
		{"  - {name: s, template: eastron-sdm630, roles: [meter], gateway: lan, registers: {points: []}}\n",
			`u.yaml:6: devices[0].registers: template eastron-sdm630 brings its own registers`},
		{"  - {name: s, protocol: sunspec, roles: [pv], gateway: nowhere, unit: 1}\n",
			`u.yaml:6: devices[0].gateway: "nowhere" is not among the gateways`},
		{"  - {name: s, protocol: modbus, roles: [pv]}\n",
			`u.yaml:6: devices[0].protocol: "modbus": accepted gpio, hostapd, mqtt, regmap, storagenode, sunspec`},
	} {
		_, err := Parse("u.yaml", strings.NewReader(head+c.devs))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant %s", c.devs, err, c.want)
		}
	}
	// A gpio relay may take its meter from an mqtt device, by name or by its load<k>_power role.
	if _, err := Parse("u.yaml", strings.NewReader(head+
		"  - {name: m, protocol: mqtt, roles: [load0_power], topics: {load.power: p}}\n"+
		"  - {name: l, protocol: gpio, roles: [load0], pins: {relay: GPIO5}, meter: m}\n")); err != nil {
		t.Fatal(err)
	}
}

// A driver's field path finds its line through keys that contain dots and through list indices.
func TestFieldLine(t *testing.T) {
	var root yaml.Node
	src := "name: x\ntopics:\n  pv.power: a\n  pv: b\npoll:\n  fast:\n    - 1\n    - 2\n"
	if err := yaml.Unmarshal([]byte(src), &root); err != nil {
		t.Fatal(err)
	}
	n := root.Content[0]
	for field, want := range map[string]int{"topics.pv.power": 3, "topics.pv": 4, "poll.fast[1]": 8,
		"poll.fast[9]": 7, "nothing.here": 1, "topics.pv.power.deeper": 3} {
		if got := fieldLine(n, field); got != want {
			t.Errorf("%s: line %d, want %d", field, got, want)
		}
	}
}
