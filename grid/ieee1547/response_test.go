package ieee1547

import (
	"math"
	"strings"
	"testing"
	"time"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestVoltVarDefaults(t *testing.T) {
	b := DefaultVoltVar(CategoryB)
	a := DefaultVoltVar(CategoryA)
	for _, tc := range []struct {
		vv   VoltVar
		v, q float64
	}{
		{b, 0.90, 0.44},  // below V1: full injection
		{b, 0.95, 0.22},  // half way from V1 (0.92) to V2 (0.98)
		{b, 1.00, 0},     // dead-band 0.98..1.02
		{b, 1.05, -0.22}, // half way from V3 (1.02) to V4 (1.08)
		{b, 1.20, -0.44}, // beyond V4: full absorption
		{a, 0.95, 0.125}, // category A: 0.25 at 0.9, no dead-band
		{a, 1.10, -0.25},
	} {
		if got := tc.vv.Target(tc.v); !near(got, tc.q, 1e-12) {
			t.Errorf("volt-var %+v at %g: %g, want %g", tc.vv, tc.v, got, tc.q)
		}
	}
	if err := a.Validate(CategoryA); err != nil {
		t.Error(err)
	}
	if err := b.Validate(CategoryB); err != nil {
		t.Error(err)
	}
	bad := b
	bad.Q1 = 0.6
	if err := bad.Validate(CategoryB); err == nil || !strings.Contains(err.Error(), "volt-var Q1 0.6 outside the allowed 0 to 0.44") {
		t.Errorf("Q1 0.6: %v", err)
	}
	bad = b
	bad.ResponseTime = 100 * time.Second
	if err := bad.Validate(CategoryB); err == nil || !strings.Contains(err.Error(), "response time") {
		t.Errorf("response 100 s: %v", err)
	}
	bad = a
	bad.Q2 = 0.1
	if err := bad.Validate(CategoryA); err == nil {
		t.Errorf("category A with dead-band reactive power accepted")
	}
}

func TestLagMeetsTheResponseTime(t *testing.T) {
	// After the open-loop response time, 90 % of a step has been delivered, whatever the tick.
	for _, tick := range []time.Duration{MinTick, DefaultTick, MaxTick} {
		l := Lag{ResponseTime: 5 * time.Second}
		var out float64
		for e := time.Duration(0); e < 5*time.Second; e += tick {
			out = l.Step(0.44, tick)
		}
		if !near(out, 0.9*0.44, 1e-9) {
			t.Errorf("tick %v: %.6f after 5 s, want 90 %% of 0.44", tick, out)
		}
	}
}

func TestVoltWatt(t *testing.T) {
	vw := DefaultVoltWatt()
	if err := vw.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ v, p float64 }{{1.0, 1}, {1.06, 1}, {1.08, 0.6}, {1.10, 0.2}, {1.2, 0.2}} {
		if got := vw.Limit(tc.v); !near(got, tc.p, 1e-12) {
			t.Errorf("volt-watt at %g: %g, want %g", tc.v, got, tc.p)
		}
	}
	vw.V2 = 1.07
	if err := vw.Validate(); err == nil || !strings.Contains(err.Error(), "volt-watt V2 1.07 outside the allowed 1.08 to 1.1") {
		t.Errorf("V2 1.07: %v", err)
	}
}

func TestFrequencyDroop(t *testing.T) {
	fd := DefaultFrequencyDroop(CategoryII)
	// 0.5 Hz above the dead-band with 5 % droop: 0.5 / (60 · 0.05) = 1/6 of rated power less.
	if got := fd.Power(60.536, 0.8, 0, 1); !near(got, 0.8-1.0/6, 1e-12) {
		t.Errorf("over-frequency: %g", got)
	}
	if got := fd.Power(60.02, 0.8, 0, 1); got != 0.8 {
		t.Errorf("inside the dead-band: %g, want the pre-disturbance 0.8", got)
	}
	// under-frequency raises output, but only up to what is available
	if got := fd.Power(59.0, 0.8, 0, 0.9); got != 0.9 {
		t.Errorf("under-frequency: %g, want the 0.9 available", got)
	}
	if got := fd.Power(63, 0.8, 0.1, 1); got != 0.1 {
		t.Errorf("far over-frequency: %g, want the 0.1 minimum", got)
	}
	for _, cat := range categories {
		if err := fd.Validate(cat); err != nil {
			t.Errorf("%v defaults: %v", cat, err)
		}
	}
	fd.KOF = 0.025
	if err := fd.Validate(CategoryIII); err != nil {
		t.Errorf("category III allows 2.5 %%: %v", err)
	}
	if err := fd.Validate(CategoryII); err == nil || !strings.Contains(err.Error(), "category II frequency-droop kOF 0.025 outside the allowed 0.03 to 0.05") {
		t.Errorf("category II 2.5 %%: %v", err)
	}
}

func TestEnterService(t *testing.T) {
	s := DefaultEnterService()
	es, err := NewEnterService(s)
	if err != nil {
		t.Fatal(err)
	}
	tick := DefaultTick
	run := func(v, f float64, d time.Duration) float64 {
		var p float64
		for e := time.Duration(0); e < d; e += tick {
			p = es.Step(v, f, tick)
		}
		return p
	}
	// 299 s in the window, then a frequency excursion: the wait starts again
	if p := run(1.0, 60, 299*time.Second); p != 0 || es.Entered() {
		t.Fatalf("entered before the 300 s delay: %v", es)
	}
	run(1.0, 60.2, time.Second)
	if p := run(1.0, 60, 299*time.Second); p != 0 || es.Entered() {
		t.Fatalf("the wait did not restart after leaving the window: %v", es)
	}
	// delay met after 300 s in the window; then the output ramps linearly over 300 s
	run(1.0, 60, 1100*time.Millisecond)
	if !es.Entered() {
		t.Fatalf("not entered after 300 s in the window: %v", es)
	}
	if p := run(1.0, 60, 150*time.Second); !near(p, 0.5, 1e-9) {
		t.Errorf("half way through the ramp: %g", p)
	}
	if p := run(1.0, 60, 200*time.Second); p != 1 {
		t.Errorf("after the ramp: %g", p)
	}
	for _, tc := range []struct {
		mod  func(*EnterService)
		want string
	}{
		{func(e *EnterService) { e.Delay = 700 * time.Second }, "enter-service delay 11m40s outside the allowed 0s to 10m0s"},
		{func(e *EnterService) { e.VMin = 0.8 }, "minimum voltage 0.8"},
		{func(e *EnterService) { e.FMax = 62 }, "maximum frequency 62"},
		{func(e *EnterService) { e.Ramp = 0 }, "ramp"},
	} {
		bad := s
		tc.mod(&bad)
		if _, err := NewEnterService(bad); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// TestFailedMeasurementsDoNotSteerTheResponses: a NaN or infinite voltage gives no volt-var or
// volt-watt answer (NaN, not full absorption or curtailment), and a lag fed one holds its output and
// then follows the next valid target.
func TestFailedMeasurementsDoNotSteerTheResponses(t *testing.T) {
	vv, vw := DefaultVoltVar(CategoryB), DefaultVoltWatt()
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if q := vv.Target(v); !math.IsNaN(q) {
			t.Errorf("volt-var at %g: %g, want NaN", v, q)
		}
		if p := vw.Limit(v); !math.IsNaN(p) {
			t.Errorf("volt-watt at %g: %g, want NaN", v, p)
		}
	}
	l := Lag{ResponseTime: 5 * time.Second, Value: 0.1}
	for i := 0; i < 10; i++ {
		if got := l.Step(vv.Target(math.NaN()), time.Second); got != 0.1 {
			t.Fatalf("lag on NaN targets: %g, want it held at 0.1", got)
		}
	}
	if got := l.Step(vv.Target(1.1), 5*time.Second); math.Abs(got-(-0.44+0.1*(0.1+0.44))) > 1e-12 {
		t.Errorf("lag after NaNs: %g, want 90 %% of the way from 0.1 to -0.44", got)
	}
}
