package firmware

import (
	"context"
	"strings"
	"testing"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/internal/units"
)

// exampleMeter is the README's "writing a driver" example, whole: a config with its check and
// constructor, and one registration. Nothing else in firmware or firmware/config knows it.
type exampleMeter struct {
	Watts float64 `yaml:"watts"`
}

func (c *exampleMeter) Check(_ []der.Role, report func(field, format string, args ...any)) {
	if !(c.Watts >= -1e6 && c.Watts <= 1e6) {
		report("watts", "%g outside ±1e6", c.Watts)
	}
}

func (c *exampleMeter) Open(der.Env) (der.Opened, error) { return der.Opened{Meter: c}, nil }

func (c *exampleMeter) ReadMeter(context.Context) (der.MeterStatus, error) {
	return der.MeterStatus{Power: units.Watts(c.Watts), Voltage: 230, Frequency: 50, GridPresent: true}, nil
}

func init() {
	der.Register("example-meter", der.Driver{Roles: []der.Role{der.RoleMeter},
		NewConfig: func() der.DriverConfig { return &exampleMeter{} }})
}

// A driver registered from its own package is parsed, checked at file:line:field and built into
// the unit's devices by the same loop as the others.
func TestRegisteredDriverRunsInTheUnit(t *testing.T) {
	u, err := config.Parse("u.yaml", strings.NewReader("name: u\ndevices:\n  - {name: pcc, protocol: example-meter, roles: [meter], watts: 1234}\n"))
	if err != nil {
		t.Fatal(err)
	}
	hw := openHardware(t, u)
	defer hw.Close()
	st, err := hw.Devices.Meter.ReadMeter(context.Background())
	if err != nil || st.Power != 1234 {
		t.Fatalf("meter %+v %v, want 1234 W", st, err)
	}
	_, err = config.Parse("u.yaml", strings.NewReader("name: u\ndevices:\n  - name: pcc\n    protocol: example-meter\n    roles: [meter]\n    watts: 5e9\n"))
	if err == nil || !strings.Contains(err.Error(), "u.yaml:6: devices[0].watts: 5e+09 outside ±1e6") {
		t.Fatalf("err %v, want the driver's check at file:line:field", err)
	}
}
