package hil

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// checkPhysics asserts the plant's invariants after a run: every step balanced, stored energy moved
// exactly by charge × η_c − discharge ÷ η_d, SoC inside the BMS limits.
func checkPhysics(t *testing.T, p *Plant) {
	t.Helper()
	c := p.Counters()
	cfg := p.Config().Battery
	throughput := float64(c.PV + c.GridImport + c.BatteryDischarge)
	sources := float64(c.PV + c.GridImport + c.BatteryDischarge)
	sinks := float64(c.Load + c.GridExport + c.BatteryCharge)
	for _, v := range []float64{sources, sinks, float64(c.StoredEnd), float64(c.MaxImbalance), float64(c.PVCurtailed)} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("a counter is not finite: %+v", c)
		}
	}
	if math.Abs(sources-sinks) > 1e-4*max(1, throughput) {
		t.Fatalf("energy not conserved: sources %.6f Wh, sinks %.6f Wh", sources, sinks)
	}
	if c.MaxImbalance > 1e-6 {
		t.Fatalf("a step was unbalanced by %v", c.MaxImbalance)
	}
	want := float64(c.StoredStart) + float64(c.BatteryCharge)*float64(cfg.ChargeEff) - float64(c.BatteryDischarge)/float64(cfg.DischargeEff)
	if math.Abs(float64(c.StoredEnd)-want) > 1e-6*float64(cfg.Capacity) {
		t.Fatalf("stored %.6f Wh, want %.6f Wh from the flows", float64(c.StoredEnd), want)
	}
	if c.SoCLow < cfg.SoCMin-1e-9 || c.SoCHigh > cfg.SoCMax+1e-9 {
		t.Fatalf("SoC left its limits: %v..%v", c.SoCLow, c.SoCHigh)
	}
}

// Whatever the controller asks, the plant stays physical: that is what lets tests trust its counters.
func TestPlantStaysPhysicalUnderRandomSetpoints(t *testing.T) {
	for _, grid := range []bool{true, false} {
		cfg := DefaultConfig()
		cfg.Grid.Available = grid
		cfg.Grid.Outages = []Outage{{From: 10 * time.Hour, To: 12 * time.Hour}}
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 86400/10; i++ {
			if i%30 == 0 {
				p.SetBatteryPower(units.Watts(rng.Float64()*20000 - 10000))
				p.SetEVPower(units.Watts(rng.Float64() * 10000))
				p.SetPVLimit(units.Watts(rng.Float64() * 6000))
				p.SetLoad(LoadKind(rng.IntN(int(NumLoads))), rng.IntN(2) == 0)
				p.SetPCC(rng.IntN(4) != 0)
			}
			p.Advance(10 * time.Second)
		}
		checkPhysics(t, p)
	}
}

func FuzzPlantSetpoints(f *testing.F) {
	f.Add(1000.0, 500.0, 3000.0, true, true, uint8(0))
	f.Add(-9e9, 9e9, -1.0, false, true, uint8(3))
	f.Add(math.Inf(1), math.NaN(), math.Inf(-1), true, false, uint8(255))
	f.Fuzz(func(t *testing.T, battery, ev, pvLimit float64, pcc, grid bool, loads uint8) {
		cfg := DefaultConfig()
		cfg.Grid.Available = grid
		cfg.Start = cfg.Start.Add(11 * time.Hour) // daylight: PV in play
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		p.SetBatteryPower(units.Watts(battery))
		p.SetEVPower(units.Watts(ev))
		p.SetPVLimit(units.Watts(pvLimit))
		p.SetPCC(pcc)
		for k := LoadKind(0); k < NumLoads; k++ {
			p.SetLoad(k, loads&(1<<k) != 0)
		}
		for i := 0; i < 60; i++ {
			p.Advance(time.Minute)
		}
		checkPhysics(t, p)
	})
}

func TestPlantRevertTimersFallBackToSafeSetpoints(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Start = cfg.Start.Add(12 * time.Hour)
	cfg.Grid.MaxExport = 1e6 // so that the plant's own export-limit protection does not move the battery
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.SetBatteryPower(-3000)
	p.SetPVLimit(100)
	p.Advance(time.Second)
	if b := p.Battery().Power; b != -3000 {
		t.Fatalf("battery followed %v, want -3000", b)
	}
	if pv := p.PVOutput(); pv > 100 {
		t.Fatalf("PV %v above its 100 W limit", pv)
	}
	// No refresh for longer than the revert timeout: the battery idles and PV is unlimited.
	for i := 0; i < 61; i++ {
		p.Advance(time.Second)
	}
	if b := p.Battery().Power; b != 0 {
		t.Fatalf("battery still at %v after its revert timer", b)
	}
	if pv := p.PVOutput(); pv <= 100 {
		t.Fatalf("PV still limited (%v) after its revert timer", pv)
	}
}

func TestPlantIslandsWhenGridFails(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Grid.Outages = []Outage{{From: time.Hour, To: 2 * time.Hour}}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for p.Elapsed() < time.Hour {
		p.Advance(time.Minute)
	}
	g := p.Grid()
	if g.Present {
		t.Fatal("grid present during its outage")
	}
	p.Advance(time.Minute)
	if b := p.Battery(); !b.GridForming || b.Power >= 0 {
		t.Fatalf("islanded at night the battery must form the grid and discharge: %+v", b)
	}
	if g := p.Grid(); g.Power != 0 || g.Frequency >= 50 {
		t.Fatalf("islanded meter %+v: want no import and droop below 50 Hz", g)
	}
	for p.Elapsed() < 2*time.Hour+time.Minute {
		p.Advance(time.Minute)
	}
	if !p.Grid().Present {
		t.Fatal("grid not back after its outage")
	}
	if c := p.Counters(); !near(c.IslandedSeconds, 3600, 60) {
		t.Fatalf("islanded %v s, want about an hour", c.IslandedSeconds)
	}
}

func TestPlantEVSessions(t *testing.T) {
	cfg := DefaultConfig()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := p.EV()
	if !ev.Connected || ev.Needed != cfg.EV.Needed || !ev.Deadline.Equal(cfg.Start.Add(7*time.Hour)) {
		t.Fatalf("at midnight the car should be plugged in until 07:00: %+v", ev)
	}
	p.SetEVPower(7400)
	for p.Elapsed() < 8*time.Hour {
		if p.Elapsed()%(30*time.Second) == 0 {
			p.SetEVPower(7400)
		}
		p.Advance(time.Second)
	}
	s := p.Sessions()
	if len(s) != 1 || !s[0].Met || s[0].Delivered != cfg.EV.Needed {
		t.Fatalf("sessions %+v: want one met with exactly the energy asked for", s)
	}
	if p.EV().Connected {
		t.Fatal("car still connected after departure")
	}
}

func TestConfigValidateNamesTheField(t *testing.T) {
	cases := map[string]func(*Config){
		"latitude":            func(c *Config) { c.Latitude = 80 },
		"battery capacity":    func(c *Config) { c.Battery.Capacity = 0 },
		"charge efficiency":   func(c *Config) { c.Battery.ChargeEff = 1.5 },
		"SoC limits":          func(c *Config) { c.Battery.SoCMin = 0.9; c.Battery.SoCMax = 0.1 },
		"initial SoC":         func(c *Config) { c.Battery.InitialSoC = 0.99 },
		"ev arrive/depart":    func(c *Config) { c.EV.DepartHour = c.EV.ArriveHour },
		"revert timeout":      func(c *Config) { c.RevertAfter = 0 },
		"pv dc/ac ratio":      func(c *Config) { c.PV.DCACRatio = 0 },
		"grid limits":         func(c *Config) { c.Grid.MaxExport = -1 },
		"inverter efficiency": func(c *Config) { c.PV.InverterEff = 2 },
	}
	for want, mutate := range cases {
		cfg := DefaultConfig()
		mutate(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}
