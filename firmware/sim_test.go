package firmware

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/hil"
)

// stepChecker asserts the controller's promises at every step of a run.
type stepChecker struct {
	t       *testing.T
	name    string
	reserve float64
	cfg     hil.BatteryConfig
	prevSoC float64
	failed  bool
}

func (c *stepChecker) observe(before hil.Counters, p *hil.Plant) {
	if c.failed {
		return
	}
	after := p.Counters()
	b := p.Battery()
	soc := float64(b.SoC)
	islanded := after.IslandedSeconds > before.IslandedSeconds
	fail := func(format string, args ...any) {
		c.failed = true
		c.t.Errorf("%s at %v: %s", c.name, p.Elapsed(), fmt.Sprintf(format, args...))
	}
	// Critical load unserved only when neither PV nor the battery could serve it: no PV was being
	// curtailed and the battery was empty or at its power limit.
	if after.Unserved[hil.Critical]-before.Unserved[hil.Critical] > 1e-9 {
		curtailed := after.PVCurtailed - before.PVCurtailed
		empty := soc <= float64(c.cfg.SoCMin)+1e-6
		atLimit := -b.Power >= c.cfg.MaxDischarge-1e-6
		if curtailed > 1e-9 || !(empty || atLimit) {
			fail("critical unserved while PV (%v curtailed) or the battery (SoC %.4f, %v) could serve it", curtailed, soc, b.Power)
		}
	}
	// The reserve is touched only in an island: connected, a battery at or below it never discharges.
	if !islanded && c.prevSoC <= c.reserve+1e-9 && soc < c.prevSoC-1e-9 {
		fail("connected, SoC fell from %.6f to %.6f below the reserve %.2f", c.prevSoC, soc, c.reserve)
	}
	if soc < float64(c.cfg.SoCMin)-1e-9 || soc > float64(c.cfg.SoCMax)+1e-9 {
		fail("SoC %.6f outside [%v, %v]", soc, c.cfg.SoCMin, c.cfg.SoCMax)
	}
	c.prevSoC = soc
}

func checkConservation(t *testing.T, name string, r SimResult) {
	t.Helper()
	e := r.Energy
	sources := e.PV + e.GridImport + e.BatteryDischarge
	sinks := e.Load + e.GridExport + e.BatteryCharge
	if math.Abs(sources-sinks) > 1e-4*sources {
		t.Errorf("%s: PV + import + discharge = %.6f Wh, load + export + charge = %.6f Wh", name, sources, sinks)
	}
	b := r.Battery
	want := b.StoredStart + e.BatteryCharge*b.ChargeEff - e.BatteryDischarge/b.DischargeEff
	if math.Abs(b.StoredEnd-want) > 1e-6*max(1, b.StoredStart) {
		t.Errorf("%s: stored energy %.6f Wh, want %.6f from charge × η − discharge ÷ η", name, b.StoredEnd, want)
	}
	if b.SoCMin < b.SoCFloor-1e-9 || b.SoCMax > b.SoCCeiling+1e-9 {
		t.Errorf("%s: SoC %.4f..%.4f left [%v, %v]", name, b.SoCMin, b.SoCMax, b.SoCFloor, b.SoCCeiling)
	}
	if e.Load != e.CriticalLoad+e.ServicesLoad+e.EV && math.Abs(e.Load-(e.CriticalLoad+e.ServicesLoad+e.EV)) > 1e-6*e.Load {
		t.Errorf("%s: load %.3f is not critical + services + EV", name, e.Load)
	}
}

// Every season, with the grid on, off, and failing for an evening: energy is conserved, the battery
// obeys its physics, critical load is served whenever it can be, the reserve is only used islanded.
func TestSimulatedDaysKeepTheirPromises(t *testing.T) {
	grids := map[string]func(*SimOptions){
		"grid-on":  func(o *SimOptions) {},
		"grid-off": func(o *SimOptions) { o.Grid = false },
		"outage":   func(o *SimOptions) { o.Outages = []hil.Outage{{From: 17 * time.Hour, To: 23 * time.Hour}} },
	}
	for _, day := range []int{15, 105, 196, 288} {
		for gname, mutate := range grids {
			name := fmt.Sprintf("day%d/%s", day, gname)
			o := DefaultSimOptions()
			o.Day = day
			mutate(&o)
			pc := o.PlantConfig(0)
			chk := &stepChecker{t: t, name: name, reserve: float64(ControllerConfigFor(pc).Reserve), cfg: pc.Battery,
				prevSoC: float64(pc.Battery.InitialSoC)}
			run, err := runUnit(context.Background(), o, 0, chk.observe)
			if err != nil {
				t.Fatal(err)
			}
			r := summarise(o, []unitRun{run})
			checkConservation(t, name, r)
			if gname == "grid-on" {
				if r.Energy.CriticalUnserved != 0 || r.Energy.ServicesUnserved != 0 || !*r.EV.DeadlineMet {
					t.Errorf("%s: connected, everything must be served: %+v %+v", name, r.Energy, r.EV)
				}
				if r.Battery.SoCMin < r.Battery.SoCReserve-1e-9 {
					t.Errorf("%s: connected all day, SoC fell to %.4f below the reserve", name, r.Battery.SoCMin)
				}
			}
			if gname == "outage" && r.IslandedHours < 5.9 {
				t.Errorf("%s: islanded only %.2f h of a 6 h outage", name, r.IslandedHours)
			}
			if r.MaxImbalanceW > 1e-6 {
				t.Errorf("%s: a step was unbalanced by %g W", name, r.MaxImbalanceW)
			}
			// The result is honest about the EV: met means delivered what was asked.
			if r.EV.DeadlineMet == nil || *r.EV.DeadlineMet != (r.EV.Delivered >= r.EV.Needed-1e-6) {
				t.Errorf("%s: deadline_met %v with %.1f of %.1f Wh", name, r.EV.DeadlineMet, r.EV.Delivered, r.EV.Needed)
			}
		}
	}
}

func TestEVFeasibleIsMetInfeasibleIsReported(t *testing.T) {
	o := DefaultSimOptions()
	o.EVKWh = 45 // 7.4 kW × 7 h = 51.8 kWh possible before 07:00
	r, err := Simulate(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !*r.EV.DeadlineMet || r.EV.Delivered != 45000 {
		t.Fatalf("45 kWh in 7 h at 7.4 kW is feasible: %+v", r.EV)
	}
	o.EVKWh = 60
	r, err = Simulate(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if *r.EV.DeadlineMet || r.EV.Missed != 1 || math.Abs(r.EV.Delivered-7400*7) > 1 {
		t.Fatalf("60 kWh is infeasible: want not met with the most possible (51.8 kWh) delivered, got %+v", r.EV)
	}
}

// South of the equator the seasons swap and the array faces north: a June day at 35°S makes about
// what a December day makes at 35°N.
func TestSouthernHemisphereMirrorsTheNorthern(t *testing.T) {
	pv := func(lat float64, day int) float64 {
		o := DefaultSimOptions()
		o.Latitude, o.Day, o.Duration = lat, day, 24*time.Hour
		r, err := Simulate(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		return r.Energy.PV + r.Energy.PVCurtailed
	}
	south, north := pv(-35, 172), pv(35, 355)
	if math.Abs(south-north) > 0.05*north {
		t.Fatalf("35°S in June %.0f Wh vs 35°N in December %.0f Wh: want within 5 %%", south, north)
	}
}

func TestRunLengthIsWhatRan(t *testing.T) {
	o := DefaultSimOptions()
	o.Duration, o.Step = 10*time.Second, 3*time.Second
	r, err := Simulate(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.SimSeconds != 9 || r.Cycles != 3 || r.EV.DeadlineMet != nil {
		t.Fatalf("10 s at 3 s steps runs 3 steps = 9 s with no EV session ended: got %v s, %d cycles, met %v", r.SimSeconds, r.Cycles, r.EV.DeadlineMet)
	}
}

func TestSameSeedSameResultByteForByte(t *testing.T) {
	run := func(seed uint64) []byte {
		o := DefaultSimOptions()
		o.Units, o.Duration, o.Seed = 3, 6*time.Hour, seed
		o.Day = 100
		r, err := Simulate(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		r.WallSeconds = 0 // the only field that measures the machine, not the simulation
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := run(11), run(11), run(12)
	if string(a) != string(b) {
		t.Fatalf("same seed, different results:\n%s\n%s", a, b)
	}
	if string(a) == string(c) {
		t.Fatal("different seeds gave identical results")
	}
}

func TestSimOptionsValidateNamesFlagAndRange(t *testing.T) {
	cases := map[string]func(*SimOptions){
		"--units 0 out of range [1, 10000]":        func(o *SimOptions) { o.Units = 0 },
		"--step 1ms out of range [100ms, 10s]":     func(o *SimOptions) { o.Step = time.Millisecond },
		"--duration 0s out of range [step, 8784h]": func(o *SimOptions) { o.Duration = 0 },
		"--latitude 90 out of range [-66, 66]":     func(o *SimOptions) { o.Latitude = 90 },
		"--day 0 out of range [1, 366]":            func(o *SimOptions) { o.Day = 0 },
		"--pv-kw -1 out of range [0, 1000]":        func(o *SimOptions) { o.PVKW = -1 },
		"--battery-kwh 0 out of range (0, 10000]":  func(o *SimOptions) { o.BatteryKWh = 0 },
		"--ev-kwh 500 out of range [0, 200]":       func(o *SimOptions) { o.EVKWh = 500 },
		"outage 2h0m0s..1h0m0s is not a window":    func(o *SimOptions) { o.Outages = []hil.Outage{{From: 2 * time.Hour, To: time.Hour}} },
	}
	for want, mutate := range cases {
		o := DefaultSimOptions()
		mutate(&o)
		if err := o.Validate(); err == nil || len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
			t.Errorf("want %q, got %v", want, err)
		}
	}
}

// BenchmarkSimDay is one unit for 24 h at 1 s steps: the target is under a second on one core.
func BenchmarkSimDay(b *testing.B) {
	o := DefaultSimOptions()
	for b.Loop() {
		if _, err := runUnit(context.Background(), o, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
}
