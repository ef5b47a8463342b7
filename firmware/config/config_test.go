package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der/gpio"
	"github.com/fractals-energy/fractals/der/sunspec"
)

func TestLoadExample(t *testing.T) {
	u, err := Load("testdata/unit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "meshbox-01" || u.Cycle != time.Second || len(u.Devices) != 4 {
		t.Fatalf("%+v", u)
	}
	inv, ok := u.Devices[0].Driver.(*sunspec.DriverConfig)
	if !ok || u.Devices[0].Protocol != "sunspec" || *inv.Unit != 1 || inv.Poll.SlowEvery != 60 || inv.Revert != 30*time.Second {
		t.Errorf("inverter %+v", u.Devices[0])
	}
	if pin := u.Devices[2].Driver.(*gpio.DriverConfig).Pins["feedback"]; pin.Name != "GPIO27" || !pin.ActiveLow {
		t.Errorf("feedback pin %+v", pin)
	}
	if u.Gateways[0].WriteReadDelay != 20*time.Millisecond {
		t.Errorf("gateway %+v", u.Gateways[0])
	}
}

// Each broken file must fail with the file, the line and the field of the mistake.
func TestErrorsNameFileLineAndField(t *testing.T) {
	base, err := os.ReadFile("testdata/unit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		from, to string
		want     string
	}{
		{"    unit: 1\n", "    unit: 300\n", "unit.yaml:21: devices[0].unit: 300 outside 0..247"},
		{"cycle: 1s", "cycle: 20s", "unit.yaml:3: cycle: 20s outside 100ms..10s"},
		{"    address: 127.0.0.1:5020", "    address: localhost", "unit.yaml:7: gateways[0].address: \"localhost\": want host:port"},
		{"    gateway: rig", "    gateway: rug", "unit.yaml:20: devices[0].gateway: \"rug\" is not among the gateways"},
		{"    roles: [meter]", "    roles: [battery]", "unit.yaml:30: devices[1].roles[0]: role \"battery\" already played by \"inverter\""},
		{"    portal_id: c0619ab1c2d3\n", "", "unit.yaml:28: devices[1].portal_id: missing"},
		{"      relay: GPIO22", "      relay: 'GPIO 22'", "unit.yaml:45: devices[3].pins.relay: pin name \"GPIO 22\""},
		{"    interlock: pcc", "    interlock: pcx", "unit.yaml:43: devices[3].interlock: no device \"pcx\""},
		{"    debounce: 20ms", "    debounce: 20 ms", "unit.yaml:39: (yaml): cannot unmarshal"},
		{"    revert: 30s", "    revret: 30s", "unit.yaml:23: (yaml): field revret not found"},
		{"  - name: venus", "  - name: inverter", "unit.yaml:28: devices[1].name: \"inverter\" defined twice"},
		{"      fast: [103,", "      fast: [0,", "unit.yaml:25: devices[0].poll.fast[0]: model 0 outside 1..65534"},
		{"  broker: tcp://127.0.0.1:1883", "  broker: 127.0.0.1", "unit.yaml:14: mqtt.broker"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		if !strings.Contains(string(base), c.from) {
			t.Fatalf("fixture lacks %q", c.from)
		}
		path := filepath.Join(dir, "unit.yaml")
		if err := os.WriteFile(path, []byte(strings.Replace(string(base), c.from, c.to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil {
			t.Errorf("%q -> %q: accepted", c.from, c.to)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q -> %q:\n got %v\nwant %s", c.from, c.to, err, c.want)
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 || es[0].Line == 0 {
			t.Errorf("%q: error %T without a line", c.from, err)
		}
	}
}

func TestParseRefusesEmptyAndGarbage(t *testing.T) {
	for _, in := range []string{"", "   \n", "[1, 2", "name: [", "- a\n- b\n", "name: x\ndevices: 7\n"} {
		if _, err := Parse("in.yaml", strings.NewReader(in)); err == nil {
			t.Errorf("%q accepted", in)
		} else if !strings.HasPrefix(err.Error(), "in.yaml:") {
			t.Errorf("%q: %v does not start with the file name", in, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	base, err := os.ReadFile("testdata/unit.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(base)
	f.Add([]byte("name: x\ndevices:\n  - {name: a, protocol: gpio, roles: [pcc], pins: {relay: GPIO1}}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("name: x\ngateways: [{name: g, protocol: modbus-tcp, address: 'h:502'}]\ndevices:\n" +
		"  - {name: i, template: sungrow-sh, roles: [pv, battery], gateway: g, unit: 3}\n" +
		"  - {name: p, protocol: sunspec, roles: [meter], gateway: g, unit: 240, poll: {fast: [203]}}\n"))
	f.Add([]byte("devices: [{unit: -1}]"))
	f.Add([]byte("name: x\npin_server: {address: \"127.0.0.1:1\", timeout: 1s}\nsite: {soc_min: 0.1, reserve: .2, max_export_w: 0, reconnect_delay: 5s}\n" +
		"mqtt: {broker: tcp://h:1}\ndevices:\n  - {name: m, protocol: mqtt, roles: [ev, load0_power], topics: {ev.power: a}}\n" +
		"  - {name: l, protocol: gpio, roles: [load0], pins: {relay: R}, meter: m, nominal_w: 40}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := Parse("fuzz.yaml", strings.NewReader(string(data)))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml:") {
				t.Fatalf("error without file: %v", err)
			}
			return
		}
		if u.Name == "" || len(u.Devices) == 0 || u.Cycle < minCycle || u.Cycle > maxCycle {
			t.Fatalf("invalid unit accepted: %+v", u)
		}
	})
}

func TestPinServerAndSiteAreValidated(t *testing.T) {
	_, err := Parse("u.yaml", strings.NewReader(`name: u
pin_server: {address: nowhere}
site:
  soc_min: 1.5
  battery_capacity_wh: -1
devices:
  - {name: l, protocol: gpio, roles: [load1], pins: {relay: R1}, meter: ghost}
  - {name: m, protocol: mqtt, roles: [load3_power], topics: {load.power: x}}
`))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"u.yaml:2: pin_server.address", "site.soc_min", "site.battery_capacity_wh",
		"devices[0].meter: no device \"ghost\"", "devices[1].roles[0]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// A PV inverter over MQTT needs its rating: from pv_rated_w or a pv.rated topic.
func TestMQTTPVNeedsItsRating(t *testing.T) {
	const head = "name: u\nmqtt: {broker: tcp://127.0.0.1:1883}\ndevices:\n"
	for _, c := range []struct {
		dev  string
		want string // "" when accepted
	}{
		{"  - {name: dtu, protocol: mqtt, roles: [pv], preset: opendtu, serial: '1141'}\n", "u.yaml:4: devices[0].pv_rated_w: missing"},
		{"  - {name: dtu, protocol: mqtt, roles: [pv], preset: opendtu, serial: '1141', pv_rated_w: 800}\n", ""},
		{"  - {name: dtu, protocol: mqtt, roles: [pv], preset: opendtu, serial: '1141', pv_rated_w: -5}\n", "devices[0].pv_rated_w: -5 outside"},
		{"  - {name: inv, protocol: mqtt, roles: [pv], topics: {pv.power: a/p}}\n", "devices[0].pv_rated_w: missing"},
		{"  - {name: inv, protocol: mqtt, roles: [pv], topics: {pv.power: a/p, pv.rated: a/r}}\n", ""},
		{"  - {name: venus, protocol: mqtt, roles: [meter], preset: victron, portal_id: c0}\n", ""},
		{"  - {name: venus, protocol: mqtt, roles: [meter], preset: victron, portal_id: c0, keepalive: 20s}\n", ""},
		{"  - {name: venus, protocol: mqtt, roles: [meter], preset: victron, portal_id: c0, keepalive: 90s}\n", "devices[0].keepalive: 1m30s: accepted 1s..55s"},
		{"  - {name: dtu, protocol: mqtt, roles: [meter], preset: opendtu, serial: '1', keepalive: 20s}\n", "devices[0].keepalive"},
		{"  - {name: dtu, protocol: mqtt, roles: [meter], preset: opendtu, serial: '1', publish_interval: 0.5s}\n", "devices[0].publish_interval"},
	} {
		_, err := Parse("u.yaml", strings.NewReader(head+c.dev))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.dev, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %s", c.dev, err, c.want)
		}
	}
}

// A switched circuit needs a relay, and interlocks join relays only.
func TestGPIORolesAndInterlocksNeedRelays(t *testing.T) {
	const head = "name: u\ndevices:\n"
	for _, c := range []struct {
		devs string
		want string // "" when accepted
	}{
		{"  - {name: pcc, protocol: gpio, roles: [pcc], pins: {input: GPIO5}}\n", "u.yaml:3: devices[0].roles[0]: role \"pcc\" switches a circuit: it needs a relay pin"},
		{"  - {name: l1, protocol: gpio, roles: [load1], pins: {input: GPIO5}}\n", "devices[0].roles[0]: role \"load1\""},
		{"  - {name: grid, protocol: gpio, roles: [grid_present], pins: {input: GPIO5}}\n" +
			"  - {name: pcc, protocol: gpio, roles: [pcc], pins: {relay: GPIO6}, interlock: grid}\n",
			"u.yaml:4: devices[1].interlock: \"grid\" is not a gpio relay"},
		{"  - {name: gen, protocol: gpio, roles: [load0], pins: {relay: GPIO7}}\n" +
			"  - {name: pcc, protocol: gpio, roles: [pcc], pins: {relay: GPIO6}, interlock: gen}\n", ""},
	} {
		_, err := Parse("u.yaml", strings.NewReader(head+c.devs))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.devs, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %s", c.devs, err, c.want)
		}
	}
}

// A typo in a point, command or field name was ignored (the point simply never arrived); it is
// refused with file, line and the accepted names.
func TestUnknownMQTTNamesAreRefused(t *testing.T) {
	_, err := Parse("u.yaml", strings.NewReader(`name: u
mqtt: {broker: "tcp://127.0.0.1:1883"}
devices:
  - name: inv
    protocol: mqtt
    roles: [pv]
    pv_rated_w: 3000
    topics:
      pv.power: a/p
      pv.pwr: a/q
    commands:
      pv.limt: a/l
    fields:
      pv.power: value
      pv.rate: value
      battery.soc: value
  - {name: dtu, protocol: mqtt, roles: [meter], preset: opendtu, serial: "1", topics: {pv.power: x}}
`))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`u.yaml:10: devices[0].topics.pv.pwr: unknown point "pv.pwr": accepted acout.power,`,
		`u.yaml:12: devices[0].commands.pv.limt: unknown command "pv.limt": accepted acin.setpoint, battery.setpoint, ev.setpoint, pv.limit`,
		`u.yaml:15: devices[0].fields.pv.rate: unknown point or command "pv.rate"`,
		`u.yaml:16: devices[0].fields.battery.soc: "battery.soc" has a field but no topic`,
		`u.yaml:17: devices[1].preset: opendtu: the preset brings its own topics`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "topics.pv.power") || strings.Contains(msg, "fields.pv.power") {
		t.Errorf("a known name refused:\n%s", msg)
	}
	if len(es) != 5 {
		t.Errorf("%d errors, want 5:\n%s", len(es), msg)
	}
}
