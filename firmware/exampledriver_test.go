package firmware_test

// The README's "writing a driver" example, whole and outside package firmware: a driver
// registered from this test package, which nothing in der, firmware/config or firmware names, is
// checked by the unit file's reader at file:line:field and runs in the daemon's control cycle.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

// fixedMeter is a meter whose reading the unit file gives (a bench stand-in for a PCC meter).
type fixedMeter struct {
	Watts float64 `yaml:"watts"`
}

func (c *fixedMeter) Check(_ []der.Role, report func(field, format string, args ...any)) {
	if !(c.Watts >= -1e6 && c.Watts <= 1e6) {
		report("watts", "%g outside ±1e6", c.Watts)
	}
}

func (c *fixedMeter) Open(der.Env) (der.Opened, error) { return der.Opened{Meter: c}, nil }

func (c *fixedMeter) ReadMeter(context.Context) (der.MeterStatus, error) {
	return der.MeterStatus{Power: units.Watts(c.Watts), Voltage: 230, Frequency: 50, GridPresent: true}, nil
}

func init() {
	der.Register("fixed-meter", der.Driver{Roles: []der.Role{der.RoleMeter},
		NewConfig: func() der.DriverConfig { return &fixedMeter{} }})
}

func TestDriverFromAnotherPackageRunsInTheDaemon(t *testing.T) {
	u, err := config.Parse("u.yaml", strings.NewReader("name: u\ndevices:\n  - {name: pcc, protocol: fixed-meter, roles: [meter], watts: 1234}\n"))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewSim(time.Date(2026, 6, 21, 12, 0, 0, 0, time.UTC))
	d, hw, err := firmware.NewDeviceDaemon(u, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hw.Close()
	if err := d.Unit().Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if g := d.Unit().Status().Snapshot.GridPower; !g.Good() || g.Value != 1234 {
		t.Fatalf("grid power %+v, want 1234 W read in the cycle", g)
	}
	for _, c := range []struct{ file, want string }{
		{"name: u\ndevices:\n  - name: pcc\n    protocol: fixed-meter\n    roles: [meter]\n    watts: 5e9\n",
			"u.yaml:6: devices[0].watts: 5e+09 outside ±1e6"},
		{"name: u\ndevices:\n  - name: pcc\n    protocol: fixed-meter\n    roles: [pv]\n",
			`u.yaml:5: devices[0].roles[0]: "pv": a fixed-meter device may be meter`},
		{"name: u\ndevices:\n  - name: pcc\n    protocol: fixed-meter\n    roles: [meter]\n    wats: 5\n",
			"u.yaml:6: (yaml): field wats not found in a fixed-meter device"},
	} {
		if _, err := config.Parse("u.yaml", strings.NewReader(c.file)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err %v, want %s", err, c.want)
		}
	}
}
