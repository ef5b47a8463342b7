package config

import (
	"strings"
	"testing"

	"github.com/fractals-energy/fractals/der/mqtt"
	"github.com/fractals-energy/fractals/der/regmap"
	"github.com/fractals-energy/fractals/der/sunspec"
)

const regmapHead = "name: u\ngateways:\n  - {name: rs485, protocol: modbus-tcp, address: '127.0.0.1:5020'}\ndevices:\n"

// A template fills protocol, unit id and register map; the entry may override the unit id.
func TestTemplateFillsTheDevice(t *testing.T) {
	_, err := Parse("u.yaml", strings.NewReader(regmapHead+
		"  - {name: inv, template: sungrow-sh, roles: [pv, battery, meter], gateway: rs485}\n"+
		"  - {name: dtu, template: sma-sunny-boy, roles: [], gateway: rs485}\n"))
	if err == nil || !strings.Contains(err.Error(), "devices[1].roles: missing") {
		t.Fatalf("want only the empty roles refused: %v", err)
	}
	u, err := Parse("u.yaml", strings.NewReader(regmapHead+
		"  - {name: inv, template: sungrow-sh, roles: [battery, meter], gateway: rs485}\n"+
		"  - {name: sma, template: sma-sunny-boy, roles: [pv], gateway: rs485, unit: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	inv, ok1 := u.Devices[0].Driver.(*regmap.DriverConfig)
	sma, ok2 := u.Devices[1].Driver.(*sunspec.DriverConfig)
	if !ok1 || u.Devices[0].Protocol != "regmap" || *inv.Unit != 1 || inv.Registers == nil || len(inv.Registers.Points) < 6 {
		t.Errorf("sungrow %+v", u.Devices[0])
	}
	if !ok2 || u.Devices[1].Protocol != "sunspec" || *sma.Unit != 3 {
		t.Errorf("sma %+v", u.Devices[1])
	}
}

func TestTemplateAndRegmapErrors(t *testing.T) {
	for _, c := range []struct{ dev, want string }{
		{"  - {name: a, template: huawei-sun9000, roles: [pv], gateway: rs485}\n", `u.yaml:5: devices[0].template: unknown template "huawei-sun9000": accepted carlo-gavazzi-em24,`},
		{"  - {name: a, template: eastron-sdm630, roles: [pv], gateway: rs485}\n", `devices[0].roles[0]: "pv": template eastron-sdm630 can play meter`},
		{"  - {name: a, template: eastron-sdm630, protocol: sunspec, roles: [meter], gateway: rs485}\n", `devices[0].protocol: "sunspec", but template eastron-sdm630 is a regmap device`},
		{"  - {name: a, protocol: regmap, roles: [meter], gateway: rs485, unit: 1}\n", "devices[0].registers: missing"},
		{"  - {name: a, protocol: regmap, roles: [meter], gateway: rs485, unit: 1, registers: {points: [{point: meter.power, address: 1, type: s64}]}}\n",
			`devices[0].registers: regmap: points[0] meter.power: type: "s64"`},
		{"  - {name: a, protocol: regmap, roles: [meter], gateway: rs485, unit: 1, registers: {points: [{point: meter.power, address: 1, type: s16}]}}\n",
			`devices[0].roles[0]: role "meter" needs a meter.voltage point`},
		{"  - {name: a, template: goodwe-et, roles: [battery], gateway: rs485}\n  - {name: b, template: goodwe-et, roles: [meter], gateway: rs485}\n",
			"devices[1].registers: set-point battery.setpoint: register 47512 of unit 247 on rs485 already used by devices[0] (a.battery.setpoint)"},
		{"  - {name: a, template: goodwe-et, roles: [pv], gateway: rs485}\n", "devices[0].pv_rated_w: missing"},
	} {
		_, err := Parse("u.yaml", strings.NewReader(regmapHead+c.dev))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant %s", c.dev, err, c.want)
		}
	}
	_, err := Parse("u.yaml", strings.NewReader("name: u\nmqtt: {broker: 'tcp://h:1883'}\ndevices:\n"+
		"  - {name: a, protocol: mqtt, roles: [ev], topics: {ev.power: p}, commands: {ev.setpoint: same/topic}}\n"+
		"  - {name: b, protocol: mqtt, roles: [battery], topics: {battery.soc: s, battery.power: w}, commands: {battery.setpoint: same/topic}}\n"))
	if err == nil || !strings.Contains(err.Error(), `u.yaml:5: devices[1].commands.battery.setpoint: topic "same/topic" already used by devices[0] (a.ev.setpoint)`) {
		t.Errorf("shared command topic: %v", err)
	}
}

// The MQTT templates bring their preset; the preset's own checks then apply.
func TestMQTTTemplatesBringTheirPreset(t *testing.T) {
	u, err := Parse("u.yaml", strings.NewReader("name: u\nmqtt: {broker: 'tcp://127.0.0.1:1883'}\ndevices:\n"+
		"  - {name: venus, template: victron-gx, roles: [battery, meter], portal_id: c0619ab1c2d3}\n"+
		"  - {name: dtu, template: opendtu-hoymiles, roles: [pv], serial: '114172220001', pv_rated_w: 800}\n"))
	if err != nil {
		t.Fatal(err)
	}
	venus, ok1 := u.Devices[0].Driver.(*mqtt.DriverConfig)
	dtu, ok2 := u.Devices[1].Driver.(*mqtt.DriverConfig)
	if !ok1 || !ok2 || u.Devices[0].Protocol != "mqtt" || venus.Preset != "victron" || dtu.Preset != "opendtu" {
		t.Fatalf("%+v", u.Devices)
	}
	_, err = Parse("u.yaml", strings.NewReader("name: u\nmqtt: {broker: 'tcp://127.0.0.1:1883'}\ndevices:\n"+
		"  - {name: venus, template: victron-gx, roles: [meter]}\n"))
	if err == nil || !strings.Contains(err.Error(), "devices[0].portal_id: missing") {
		t.Fatalf("victron without portal id: %v", err)
	}
}
