package droop

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

var start = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func twoUnits(damping float64) Island {
	return Island{
		Nominal: 60, Inertia: 2, Damping: damping, VoltageTime: 50 * time.Millisecond,
		Units: []Unit{
			{Name: "A", Rating: 100e3, FreqDroop: 0.04, VoltDroop: 0.05, Response: 100 * time.Millisecond, PMin: -100e3, P0: 40e3},
			{Name: "B", Rating: 50e3, FreqDroop: 0.04, VoltDroop: 0.04, Response: 200 * time.Millisecond, PMin: -50e3, P0: 20e3},
		},
		LoadP: 60e3, LoadQ: 20e3,
	}
}

// simulate steps the island with a simulated clock: 1 s as it is, then a 20 % load step (active and
// reactive), then 30 s, sampling every 100 ms. It returns the states before the step and at the end,
// and the lowest frequency seen.
func simulate(t *testing.T, is Island) (before, after State, nadir units.Hertz) {
	t.Helper()
	clk := clock.NewSim(start)
	sim, err := New(is, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	nadir = 1e9
	for i := 0; i < 10; i++ {
		clk.Advance(100 * time.Millisecond)
		if before, err = sim.AdvanceTo(clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := sim.SetLoad(is.LoadP*1.2, is.LoadQ*1.2); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		clk.Advance(100 * time.Millisecond)
		if after, err = sim.AdvanceTo(clk.Now()); err != nil {
			t.Fatal(err)
		}
		nadir = min(nadir, after.F)
	}
	if !after.At.Equal(start.Add(31 * time.Second)) {
		t.Fatalf("simulation at %v, want the clock's %v", after.At, start.Add(31*time.Second))
	}
	return before, after, nadir
}

// TestLoadStepSharedByDroop: after a 20 % load step the frequency settles where the droop law puts it
// and the two units share the step in proportion to rating/droop: A = 100 kW/4 % and B = 50 kW/4 %
// have gains 2.5 and 1.25 MW per p.u. of frequency, so B takes half of what A takes (1:2); on the
// reactive side 100/5 : 50/4 = 1.6 : 1.
func TestLoadStepSharedByDroop(t *testing.T) {
	for _, damping := range []float64{0, 1.5} {
		is := twoUnits(damping)
		before, after, nadir := simulate(t, is)
		// droop law, in watts: ΔP_i = rating_i · (Δf/f0) / droop_i, and with load damping the load
		// itself gives D·base·(Δf/f0): the 12 kW step is met by Σ gains + D·base.
		base := 150e3
		gainA, gainB := 100e3/0.04, 50e3/0.04
		step := 0.2 * float64(is.LoadP)
		// the set-points (40 + 20 kW) match the initial 60 kW load, so the island starts at 60 Hz
		dfPU := step / (gainA + gainB + damping*base)
		wantF := 60 * (1 - dfPU)
		if math.Abs(float64(before.F)-60) > 1e-9 {
			t.Errorf("D=%g: starts at %.9f Hz, want 60", damping, before.F)
		}
		if math.Abs(float64(after.F)-wantF) > 1e-6 {
			t.Errorf("D=%g: frequency settles at %.7f Hz, droop law predicts %.7f Hz", damping, after.F, wantF)
		}
		dA := float64(after.P[0] - before.P[0])
		dB := float64(after.P[1] - before.P[1])
		if math.Abs(dB/dA-0.5) > 1e-5 || gainB/gainA != 0.5 {
			t.Errorf("D=%g: active shares B %.1f W : A %.1f W, want 1:2", damping, dB, dA)
		}
		if math.Abs(dA+dB+damping*base*dfPU-step) > 1e-3 {
			t.Errorf("D=%g: units take %.3f W and damping %.3f W of the %.0f W step", damping, dA+dB, damping*base*dfPU, step)
		}
		// reactive: Q_i = rating_i · (1 − V) / vdroop_i, summing to the load's 24 kvar
		qA, qB := 100e3/0.05, 50e3/0.04
		wantV := 1 - 1.2*is.LoadQ/(qA+qB)
		if math.Abs(float64(after.V)-wantV) > 1e-7 {
			t.Errorf("D=%g: voltage settles at %.8f p.u., droop law predicts %.8f", damping, after.V, wantV)
		}
		if r := (after.Q[0] - before.Q[0]) / (after.Q[1] - before.Q[1]); math.Abs(r-qA/qB) > 1e-5 {
			t.Errorf("D=%g: reactive shares ratio %.5f, want %.5f", damping, r, qA/qB)
		}
		// the inertia and the units' response lag make the frequency dip below where it settles
		if nadir >= after.F {
			t.Errorf("D=%g: no frequency dip: nadir %.5f, final %.5f", damping, nadir, after.F)
		}
	}
}

func TestMoreInertiaSlowsTheFall(t *testing.T) {
	rate := func(h float64) float64 {
		is := twoUnits(0)
		is.Inertia = h
		sim, err := New(is, start)
		if err != nil {
			t.Fatal(err)
		}
		if err := sim.SetLoad(is.LoadP*1.2, is.LoadQ); err != nil {
			t.Fatal(err)
		}
		st, _ := sim.AdvanceTo(start.Add(10 * time.Millisecond))
		// initial RoCoF = −ΔP / (2H) in p.u./s: 12 kW on 150 kW (the island starts at 60 Hz)
		return (float64(st.F) - 60) / 0.01
	}
	for _, h := range []float64{1, 4} {
		want := -60 * (12e3 / 150e3) / (2 * h)
		if got := rate(h); math.Abs(got-want) > 0.02*math.Abs(want) {
			t.Errorf("H=%g: initial RoCoF %.4f Hz/s, want ≈ %.4f", h, got, want)
		}
	}
}

func TestPowerLimitsHold(t *testing.T) {
	is := twoUnits(0)
	is.Units[1].PMax = 30e3
	sim, err := New(is, start)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.SetLoad(125e3, is.LoadQ); err != nil {
		t.Fatal(err)
	}
	st, err := sim.AdvanceTo(start.Add(60 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// B saturates at 30 kW and A picks up the rest, so the frequency falls to where A alone supplies
	// 95 kW: 60·(1 − 0.04·(95 − 40)/100) = 58.68 Hz
	if math.Abs(float64(st.P[1])-30e3) > 1 || math.Abs(float64(st.P[0]+st.P[1])-125e3) > 1 {
		t.Errorf("P = %v, want B at 30 kW and 125 kW in total", st.P)
	}
	if math.Abs(float64(st.F)-58.68) > 1e-4 {
		t.Errorf("frequency %.5f Hz, want 58.68", st.F)
	}
	if _, err := sim.AdvanceTo(start); err == nil {
		t.Error("going back in time was accepted")
	}
}

func TestIslandValidation(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Island)
		want string
	}{
		{func(is *Island) { is.Inertia = 0 }, "inertia constant 0 s outside the allowed 0.01 to 20 s"},
		{func(is *Island) { is.Units[0].FreqDroop = 0.5 }, "unit 0 (A): frequency droop 0.5 outside"},
		{func(is *Island) { is.Units = nil }, "at least one"},
		{func(is *Island) { is.Units[1].Response = 0 }, "unit 1 (B): response time constant 0s"},
		{func(is *Island) { is.VoltageTime = time.Minute }, "voltage time constant 1m0s"},
		{func(is *Island) { is.Units[0].Rating = units.Watts(math.Inf(1)) }, "unit 0 (A): rating +Inf W outside the allowed (0, 1e+09] W"},
		{func(is *Island) { is.Units[1].Rating = units.Watts(math.NaN()) }, "unit 1 (B): rating NaN W"},
		{func(is *Island) { is.Units[0].P0 = units.Watts(math.NaN()) }, "unit 0 (A): P0 NaN outside the allowed ±100000"},
		{func(is *Island) { is.Units[1].Q0 = 1e9 }, "unit 1 (B): Q0 1e+09 outside the allowed ±50000"},
		{func(is *Island) { is.Units[1].PMax = units.Watts(math.Inf(1)) }, "unit 1 (B): PMax +Inf"},
		{func(is *Island) { is.LoadP = units.Watts(math.NaN()) }, "active load NaN W outside the allowed ±1.5e+06 W"},
		{func(is *Island) { is.LoadQ = math.Inf(-1) }, "reactive load -Inf var"},
		{func(is *Island) { is.LoadP = 2e6 }, "active load 2e+06 W"},
		{func(is *Island) { is.Nominal = units.Hertz(math.Inf(1)) }, "nominal frequency"},
	} {
		is := twoUnits(0)
		tc.mod(&is)
		if _, err := New(is, start); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// TestBadLoadAndLongAdvanceAreRefused: SetLoad refuses a NaN, infinite or absurd load and keeps the old
// one; AdvanceTo refuses to integrate more than MaxAdvance in one call (its cost grows with the time
// advanced) and changes nothing, while the same span in MaxAdvance steps works.
func TestBadLoadAndLongAdvanceAreRefused(t *testing.T) {
	is := twoUnits(0)
	sim, err := New(is, start)
	if err != nil {
		t.Fatal(err)
	}
	for _, load := range []struct {
		p units.Watts
		q float64
	}{{units.Watts(math.NaN()), 0}, {0, math.NaN()}, {units.Watts(math.Inf(1)), 0}, {1.6e6, 0}, {0, -1.6e6}} {
		if err := sim.SetLoad(load.p, load.q); err == nil || !strings.Contains(err.Error(), "outside the allowed") {
			t.Errorf("SetLoad(%v, %v): %v", load.p, load.q, err)
		}
	}
	st, err := sim.AdvanceTo(start.Add(time.Second))
	if err != nil || math.Abs(float64(st.F)-60) > 1e-9 || math.Abs(float64(st.P[0]+st.P[1]-is.LoadP)) > 1e-6 {
		t.Fatalf("after refused loads: %+v, %v; want the initial 60 kW at 60 Hz", st, err)
	}
	far := start.Add(time.Second + MaxAdvance + time.Millisecond)
	if _, err := sim.AdvanceTo(far); err == nil || !strings.Contains(err.Error(), "exceeds the 10m0s limit") {
		t.Errorf("advancing more than MaxAdvance: %v", err)
	}
	if !sim.Now().Equal(start.Add(time.Second)) {
		t.Errorf("a refused advance moved the simulation to %v", sim.Now())
	}
	if st, err = sim.AdvanceTo(start.Add(time.Second + MaxAdvance)); err != nil || !st.At.Equal(start.Add(time.Second+MaxAdvance)) {
		t.Errorf("advancing exactly MaxAdvance: %v, %v", st.At, err)
	}
}
