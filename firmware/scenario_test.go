package firmware

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/hil/scenario"
	"github.com/fractals-energy/fractals/internal/clock"
)

func readScenario(t testing.TB, path string) *scenario.Scenario {
	t.Helper()
	s, err := scenario.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every scenario of the suite passes through the simulated devices.
func TestScenarioSuitePasses(t *testing.T) {
	files, err := filepath.Glob("../hil/scenarios/*.yaml")
	if err != nil || len(files) < 7 {
		t.Fatalf("scenarios: %v %v", files, err)
	}
	for _, f := range files {
		s := readScenario(t, f)
		r, err := RunScenario(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Pass {
			t.Errorf("%s fails: %+v", f, r.Verdicts)
		}
	}
}

// BenchmarkScenario48h is the two-day winter outage scenario (50 h simulated at 1 s cycles).
func BenchmarkScenario48h(b *testing.B) {
	s := readScenario(b, "../hil/scenarios/outage-winter-two-days.yaml")
	for b.Loop() {
		if _, err := RunScenario(context.Background(), s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProtectionTick is one protection tick of one unit against the simulated devices: read
// the PCC meter and feedback, step the relay, detector and island state machine.
func BenchmarkProtectionTick(b *testing.B) {
	o := DefaultSimOptions()
	pc := o.PlantConfig(0)
	clk := newBenchClock(pc.Start)
	plant, unit, err := newSimulatedUnit(pc, o.Step, clk, nil)
	if err != nil {
		b.Fatal(err)
	}
	_ = plant
	ctx := context.Background()
	_ = unit.Cycle(ctx)
	b.ReportAllocs()
	for b.Loop() {
		clk.Advance(tickForBench)
		_ = unit.ProtectionTick(ctx)
	}
}

const tickForBench = 100 * time.Millisecond

func newBenchClock(start time.Time) *clock.Sim { return clock.NewSim(start) }

// A small campaign is deterministic for its seed and every run passes (energy-limited runs, whose
// battery reached its floor, count their unserved critical energy in the distribution, not as failures).
func TestCampaignIsDeterministicAndPasses(t *testing.T) {
	a, err := RunCampaign(context.Background(), 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := RunCampaign(context.Background(), 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	if a.Passed != a.N {
		t.Fatalf("campaign runs failed: %+v", a.Runs)
	}
	a.WallSeconds, b.WallSeconds = 0, 0
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatal("the same seed gave different campaigns")
	}
	if a.Detection.Max > 2 || a.FrequencyNadir.Min < 48.75 {
		t.Fatalf("distributions out of bounds: %+v %+v", a.Detection, a.FrequencyNadir)
	}
}

// The balanced RLC island is found by the Sandia frequency shift the controller turns on: without it
// the same scenario is IEEE 1547.1's non-detection zone, and the unit goes on energising the dead
// section until the utility comes back.
func TestBalancedIslandNeedsFrequencyShift(t *testing.T) {
	s := readScenario(t, "../hil/scenarios/unintentional-island-balanced-rlc.yaml")
	with, err := RunScenario(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	without, err := runScenario(context.Background(), s, func(c *fractals.Config) { c.Protection.FrequencyShift = false })
	if err != nil {
		t.Fatal(err)
	}
	verdict := func(r ScenarioResult, kind string) Verdict {
		for _, v := range r.Verdicts {
			if v.Kind == kind {
				return v
			}
		}
		t.Fatalf("no %s verdict", kind)
		return Verdict{}
	}
	for _, kind := range []string{"detection_time", "cessation_time"} {
		if v := verdict(with, kind); !v.Pass || v.Value > 2 {
			t.Errorf("with frequency shift, %s: %+v", kind, v)
		}
		if v := verdict(without, kind); v.Pass {
			t.Errorf("without frequency shift the island should go unseen, yet %s: %+v", kind, v)
		}
	}
	if len(without.Phases) != 1 || without.Phases[0].Phase != "connected" {
		t.Errorf("without frequency shift the unit should never leave connected: %+v", without.Phases)
	}
}

// The same full-battery island curtails the same surplus either way: by frequency the island's
// frequency carries it (and the PV limit stays at the rating), by set-point the frequency stays at
// the droop.
func TestIslandCurtailmentByFrequencyOrSetpoint(t *testing.T) {
	s := readScenario(t, "../hil/scenarios/island-full-battery-frequency-curtailment.yaml")
	byFreq, err := RunScenario(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	bySet, err := runScenario(context.Background(), s, func(c *fractals.Config) { c.IslandCurtailment = fractals.CurtailBySetpoint })
	if err != nil {
		t.Fatal(err)
	}
	value := func(r ScenarioResult, kind string) float64 {
		for _, v := range r.Verdicts {
			if v.Kind == kind {
				return v.Value
			}
		}
		t.Fatalf("no %s verdict", kind)
		return 0
	}
	if !byFreq.Pass || value(byFreq, "frequency_rise") < 0.5 {
		t.Errorf("by frequency: %+v", byFreq.Verdicts)
	}
	if rise := value(bySet, "frequency_rise"); rise > 0.2 {
		t.Errorf("by set-point the frequency rose %.3f Hz: the controller's limit should leave nothing to shift", rise)
	}
	if a, b := value(byFreq, "pv_curtailed"), value(bySet, "pv_curtailed"); b < 2000 || math.Abs(a-b) > 0.1*a {
		t.Errorf("curtailed %.0f Wh by frequency, %.0f Wh by set-point: want about the same surplus", a, b)
	}
}

// BenchmarkCommunityScenario5 is the five-unit community scenario (3 h at 1 s cycles, five
// controllers, the feeder's power flow each step, the droop while islanded).
func BenchmarkCommunityScenario5(b *testing.B) {
	s := readScenario(b, "../hil/scenarios/community-five-units-droop.yaml")
	for b.Loop() {
		if _, err := RunScenario(context.Background(), s); err != nil {
			b.Fatal(err)
		}
	}
}
