package firmware

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/der/sunspec"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/clock"
)

// twelveOnly is a hybrid that speaks the 12x models only (123, 124), seventyOnly one that speaks
// IEEE 1547-2018's only (701, 702, 704) besides the battery's 802.
func twelveOnly(t *testing.T) *sunspec.Map {
	m, err := sunspec.NewMap(40000, sunspec.ModelSpec{ID: 1}, sunspec.ModelSpec{ID: 103}, sunspec.ModelSpec{ID: 120},
		sunspec.ModelSpec{ID: 123}, sunspec.ModelSpec{ID: 124}, sunspec.ModelSpec{ID: 802})
	if err != nil {
		t.Fatal(err)
	}
	set(t, m, []sv{{103, "W_SF", 0}, {103, "W", 2500}, {120, "WRtg_SF", 0}, {120, "WRtg", 6000}, {123, "WMaxLimPct_SF", -1},
		{124, "WChaMax_SF", 0}, {124, "WChaMax", 5000}, {124, "InOutWRte_SF", -1}})
	return m
}

func seventyOnly(t *testing.T) *sunspec.Map {
	m, err := sunspec.NewMap(40000, sunspec.ModelSpec{ID: 1}, sunspec.ModelSpec{ID: 701}, sunspec.ModelSpec{ID: 702},
		sunspec.ModelSpec{ID: 704}, sunspec.ModelSpec{ID: 802})
	if err != nil {
		t.Fatal(err)
	}
	set(t, m, []sv{{701, "W_SF", 0}, {701, "W", 2500}, {702, "W_SF", 0}, {702, "WMaxRtg", 6000}, {702, "WMax", 6000},
		{704, "WMaxLimPct_SF", -1}, {704, "WSet_SF", 0}})
	return m
}

type sv struct {
	model uint16
	path  string
	v     float64
}

func set(t *testing.T, m *sunspec.Map, vals []sv) {
	t.Helper()
	vals = append(vals, sv{802, "SoC_SF", -1}, sv{802, "SoC", 60}, sv{802, "W_SF", 0}, sv{802, "W", 0}, sv{802, "WHRtg_SF", 0},
		sv{802, "WHRtg", 10000}, sv{802, "WChaDisChaMax_SF", 0}, sv{802, "WChaRteMax", 5000}, sv{802, "WDisChaRteMax", 5000})
	for _, s := range vals {
		if err := m.Set(s.model, s.path, s.v); err != nil {
			t.Fatalf("model %d %s: %v", s.model, s.path, err)
		}
	}
}

// The same unit file runs against a 12x-only and a 70x-only device: discovery picks the controls
// each carries (123/124 or 704), and the PV limit and battery set-point land there.
func TestSameUnitFileOn12xAnd70xDevices(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	unitFile := fmt.Sprintf(`name: either
gateways:
  - {name: lan, protocol: modbus-tcp, address: "%s", timeout: 500ms}
devices:
  - {name: inverter, template: sunspec-hybrid, roles: [pv, battery], gateway: lan}
`, addr)
	for _, c := range []struct {
		name  string
		m     *sunspec.Map
		check func(m *sunspec.Map) error
	}{
		{"12x only", twelveOnly(t), func(m *sunspec.Map) error {
			return expect(m, []sv{{123, "WMaxLimPct", 50}, {123, "WMaxLim_Ena", 1}, {124, "InWRte", -20}, {124, "StorCtl_Mod", 3}})
		}},
		{"70x only", seventyOnly(t), func(m *sunspec.Map) error {
			return expect(m, []sv{{704, "WMaxLimPct", 50}, {704, "WMaxLimPctEna", 1}, {704, "WSet", 1000}, {704, "WSetEna", 1}})
		}},
	} {
		srv := modbus.NewServer(map[byte]modbus.Bank{1: c.m}, 1)
		if err := srv.Start(addr); err != nil {
			t.Fatal(err)
		}
		u, err := config.Parse("unit.yaml", strings.NewReader(unitFile))
		if err != nil {
			t.Fatal(err)
		}
		hw, err := OpenDevices(u, ControllerConfig(u), clock.Real{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := hw.WaitReady(ctx, 5*time.Second); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		snap, errs := fractals.Read(ctx, &hw.Devices, time.Now(), &fractals.Snapshot{}, time.Second)
		if len(errs) > 0 || snap.PVPower.Value != 2500 || snap.PVRated.Value != 6000 || snap.SoC.Value != 0.6 {
			t.Errorf("%s: pv %v rated %v soc %v: %v", c.name, snap.PVPower, snap.PVRated, snap.SoC, errs)
		}
		if err := hw.Devices.PV.SetPVLimit(ctx, 3000); err != nil {
			t.Errorf("%s: PV limit: %v", c.name, err)
		}
		if err := hw.Devices.Battery.SetBatteryPower(ctx, -1000); err != nil {
			t.Errorf("%s: battery: %v", c.name, err)
		}
		if err := c.check(c.m); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		hw.Close()
		srv.Stop()
	}
}

// A device whose 802 W counts discharge positive is read the right way round when the unit file
// says so.
func TestBatteryWSignPerDevice(t *testing.T) {
	m := twelveOnly(t)
	if err := m.Set(802, "W", 800); err != nil {
		t.Fatal(err)
	}
	srv := modbus.NewServer(map[byte]modbus.Bank{1: m}, 1)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	for _, c := range []struct {
		flag string
		want float64
	}{{"", 800}, {", battery_w_discharge_positive: true", -800}} {
		u, err := config.Parse("unit.yaml", strings.NewReader(fmt.Sprintf(`name: sign
gateways:
  - {name: lan, protocol: modbus-tcp, address: "%s"}
devices:
  - {name: inverter, template: sunspec-hybrid, roles: [battery], gateway: lan%s}
`, srv.Addr(), c.flag)))
		if err != nil {
			t.Fatal(err)
		}
		hw, err := OpenDevices(u, ControllerConfig(u), clock.Real{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		st, err := hw.Devices.Battery.ReadBattery(context.Background())
		hw.Close()
		if err != nil || float64(st.Power) != c.want {
			t.Errorf("flag %q: battery power %v %v, want %v", c.flag, st.Power, err, c.want)
		}
	}
}

func expect(m *sunspec.Map, want []sv) error {
	for _, w := range want {
		v, err := m.Get(w.model, w.path)
		if err != nil || !v.Valid || v.Number != w.v {
			return fmt.Errorf("model %d %s = %+v %v, want %v", w.model, w.path, v.Number, err, w.v)
		}
	}
	return nil
}
