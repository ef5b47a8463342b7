package firmware

import (
	"context"
	"strings"
	"testing"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/units"
)

// contactor is a registered driver for a switched circuit with a charger behind it: it can be the
// PCC, a load circuit or the EV charger, and remembers what it was told.
type contactor struct {
	Watts  float64 `yaml:"watts"`
	closed bool
	evSet  units.Watts
}

func (c *contactor) Check([]der.Role, func(field, format string, args ...any)) {}

func (c *contactor) Open(der.Env) (der.Opened, error) {
	return der.Opened{Switch: c, Load: c, EV: c}, nil
}

func (c *contactor) ReadSwitch(context.Context) (bool, error)          { return c.closed, nil }
func (c *contactor) SetSwitch(_ context.Context, closed bool) error    { c.closed = closed; return nil }
func (c *contactor) SetLoad(ctx context.Context, on bool) error        { return c.SetSwitch(ctx, on) }
func (c *contactor) SetEVPower(_ context.Context, p units.Watts) error { c.evSet = p; return nil }
func (c *contactor) ReadEV(context.Context) (der.EVStatus, error) {
	return der.EVStatus{Connected: true, Power: c.evSet}, nil
}
func (c *contactor) ReadLoad(context.Context) (der.LoadStatus, error) {
	return der.LoadStatus{Power: units.Watts(c.Watts), On: c.closed}, nil
}

func init() {
	der.Register("example-contactor", der.Driver{
		Roles:     []der.Role{der.RolePCC, der.LoadRole(0), der.LoadRole(1), der.LoadRole(2), der.RoleEV},
		NewConfig: func() der.DriverConfig { return &contactor{} }})
}

// A registered driver plays the switching roles too: the PCC, a load circuit and the EV charger
// the controller drives are the driver's devices.
func TestRegisteredDriverPlaysSwitchingRoles(t *testing.T) {
	if der.NumLoadRoles != fractals.NumLoads {
		t.Fatalf("der has %d load roles, the controller %d load circuits", der.NumLoadRoles, fractals.NumLoads)
	}
	u, err := config.Parse("u.yaml", strings.NewReader(`name: u
devices:
  - {name: main, protocol: example-contactor, roles: [pcc]}
  - {name: heater, protocol: example-contactor, roles: [load1], watts: 2000}
  - {name: wallbox, protocol: example-contactor, roles: [ev]}
`))
	if err != nil {
		t.Fatal(err)
	}
	hw := openHardware(t, u)
	defer hw.Close()
	ctx := context.Background()
	if err := hw.Devices.PCC.SetSwitch(ctx, true); err != nil {
		t.Fatal(err)
	}
	if closed, _ := hw.Devices.PCC.ReadSwitch(ctx); !closed {
		t.Fatal("PCC open after closing it")
	}
	if hw.Devices.Loads[0] != nil || hw.Devices.Loads[2] != nil || hw.Devices.Loads[1] == nil {
		t.Fatalf("loads %v, want only load1", hw.Devices.Loads)
	}
	if err := hw.Devices.Loads[1].SetLoad(ctx, true); err != nil {
		t.Fatal(err)
	}
	if st, _ := hw.Devices.Loads[1].ReadLoad(ctx); !st.On || st.Power != 2000 {
		t.Fatalf("load1 %+v, want on at 2000 W", st)
	}
	if err := hw.Devices.EV.SetEVPower(ctx, 3700); err != nil {
		t.Fatal(err)
	}
	if st, _ := hw.Devices.EV.ReadEV(ctx); st.Power != 3700 {
		t.Fatalf("ev %+v, want 3700 W", st)
	}
	if closed, _ := hw.Devices.PCC.ReadSwitch(ctx); !closed {
		t.Fatal("the PCC device was switched by another device's command")
	}
}
