package hil

import (
	"math"
	"testing"
	"time"
)

// feederIslandPlant is a unit exporting at noon with a full battery, whose utility breaker opens at
// 10 s leaving a quality-factor-1 RLC load matched to its export.
func feederIslandPlant(t *testing.T, shift bool) *Plant {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Start = cfg.Start.Add(12 * time.Hour)
	cfg.Battery.InitialSoC = cfg.Battery.SoCMax
	cfg.Grid.Outages = []Outage{{From: 10 * time.Second, To: time.Hour, LoadQuality: 1}}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.SetFrequencyShift(shift)
	return p
}

// Without an active method the balanced island is invisible at the PCC: the breaker input reads
// energised, the frequency stays at nominal and the voltage within the few per cent the load's
// own wander moves it (IEEE 1547.1's non-detection zone).
func TestBalancedIslandIsInvisibleWithoutFrequencyShift(t *testing.T) {
	p := feederIslandPlant(t, false)
	for range 200 { // 20 s at 100 ms
		p.Advance(100 * time.Millisecond)
		g := p.Grid()
		if !g.Present || !g.PCCClosed || math.Abs(float64(g.Frequency)-50) > 1e-9 || math.Abs(float64(g.Voltage)-230) > 0.03*230 {
			t.Fatalf("at %v the PCC shows %+v: want it unchanged", p.Elapsed(), g)
		}
	}
	if !p.feeder.active {
		t.Fatal("the unintentional island never formed: is the unit exporting?")
	}
	checkPhysics(t, p)
}

// With the Sandia frequency shift on, the same island's frequency runs out of the detector's window
// (50.42 Hz) within a second, while tied to the utility it stays at nominal.
func TestFrequencyShiftWalksTheIslandOut(t *testing.T) {
	p := feederIslandPlant(t, true)
	var left time.Duration
	for range 200 {
		p.Advance(100 * time.Millisecond)
		f := float64(p.Grid().Frequency)
		if p.Elapsed() <= 10*time.Second && f != 50 {
			t.Fatalf("at %v, tied to the utility, frequency %v Hz", p.Elapsed(), f)
		}
		if left == 0 && f > 50.42 {
			left = p.Elapsed() - 10*time.Second
		}
	}
	if left == 0 || left > time.Second {
		t.Fatalf("frequency left 50.42 Hz after %v, want within 1 s", left)
	}
	// Opening the PCC ends it: the battery forms the unit's own island (its battery full, so raising
	// the frequency to curtail the PV surplus, inside the 51 Hz continuous limit).
	p.SetPCC(false)
	p.Advance(100 * time.Millisecond)
	if g := p.Grid(); g.Present || !p.Battery().GridForming || g.Frequency < 49 || g.Frequency >= 51 {
		t.Fatalf("after the PCC opened: %+v, forming %v", g, p.Battery().GridForming)
	}
	checkPhysics(t, p)
}
