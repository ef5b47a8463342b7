package mqtt

import (
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fractals-energy/fractals/der"
)

// openEntry decodes a unit file entry's driver fields as the unit file's reader does and opens the
// device on a broker that need not be there (nothing connects before Run).
func openEntry(t *testing.T, name, entry string, staleAfter time.Duration) *Device {
	t.Helper()
	var c DriverConfig
	if err := yaml.Unmarshal([]byte(entry), &c); err != nil {
		t.Fatal(err)
	}
	var problems []string
	c.Check(nil, func(field, format string, args ...any) { problems = append(problems, field) })
	if len(problems) > 0 {
		t.Fatalf("%s: refused at %v", entry, problems)
	}
	env := der.Env{Name: name, Unit: "u", Cycle: time.Second, StaleAfter: staleAfter,
		Shared: func(kind, _ string) (any, error) { return Connection{Broker: "tcp://127.0.0.1:1"}, nil }}
	o, err := c.Open(env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Closer.Close() })
	return o.Shares[der.SharedMQTT].(*Device)
}

// MQTT presets get their stale limit from the device's publishing rhythm, not from the cycle;
// the entry can change the rhythm or set the limit outright.
func TestDriverStaleLimitsAndClientIDs(t *testing.T) {
	for _, c := range []struct {
		name, entry string
		staleAfter  time.Duration
		want        time.Duration
	}{
		{"venus", "{preset: victron, portal_id: c0}", 0, 60 * time.Second},
		{"venus20", "{preset: victron, portal_id: c1, keepalive: 20s}", 0, 40 * time.Second},
		{"dtu", "{preset: opendtu, serial: '1141', pv_rated_w: 800}", 0, 15 * time.Second},
		{"dtu2", "{preset: opendtu, serial: '1142', publish_interval: 10s}", 0, 30 * time.Second},
		{"dtu3", "{preset: opendtu, serial: '1143'}", 7 * time.Second, 7 * time.Second},
		{"custom", "{topics: {meter.power: m/p}}", 0, 1500 * time.Millisecond},
	} {
		d := openEntry(t, c.name, c.entry, c.staleAfter)
		if d.StaleAfter() != c.want {
			t.Errorf("%s: stale after %v, want %v", c.name, d.StaleAfter(), c.want)
		}
		// Without mqtt.client_id the client id is unit-device, unique across units on one broker.
		if d.ClientID() != "u-"+c.name {
			t.Errorf("%s: client id %q, want %q", c.name, d.ClientID(), "u-"+c.name)
		}
	}
}

// The Victron VE.Bus instance comes from the entry (DefaultVebusInstance when it does not say).
func TestDriverVebusInstance(t *testing.T) {
	for entry, want := range map[string]string{
		"{preset: victron, portal_id: c0, vebus_instance: 227}": "W/c0/vebus/227/Hub4/L1/AcPowerSetpoint",
		"{preset: victron, portal_id: c1}":                      "W/c1/vebus/276/Hub4/L1/AcPowerSetpoint",
	} {
		d := openEntry(t, "venus", entry, 0)
		if got := d.Mapping().Commands[CmdACInSetpoint].Topic; got != want {
			t.Errorf("%s: set-point topic %q, want %q", entry, got, want)
		}
	}
}
