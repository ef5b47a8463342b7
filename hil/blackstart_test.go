package hil

import (
	"testing"
	"time"
)

// A tripped grid-forming inverter leaves the island dark (nothing served, no voltage or frequency)
// until its controller disconnects and reconnects it; energize alone does not restart it.
func TestTrippedInverterBlackStartsOnDisconnectThenConnect(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Start = cfg.Start.Add(20 * time.Hour) // evening: the island runs on the battery
	cfg.Grid.Available = false
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.SetPCC(false)
	p.Advance(time.Second)
	if g := p.Grid(); g.Voltage != 230 || p.Load(Critical).Power == 0 {
		t.Fatalf("island before the trip: %+v, critical %v", g, p.Load(Critical))
	}
	p.TripForming()
	p.SetEnergize(true) // a connect without a disconnect first is no restart
	p.Advance(time.Second)
	if g := p.Grid(); g.Voltage != 0 || g.Frequency != 0 || p.Load(Critical).Power != 0 || p.Battery().GridForming {
		t.Fatalf("tripped: %+v, critical %v, forming %v", g, p.Load(Critical), p.Battery().GridForming)
	}
	p.SetEnergize(false)
	p.Advance(time.Second)
	p.SetEnergize(true)
	p.Advance(time.Second)
	if g := p.Grid(); g.Voltage != 230 || g.Frequency < 49 || p.Load(Critical).Power == 0 || p.BlackStarts() != 1 {
		t.Fatalf("after the black start: %+v, critical %v, black starts %d", g, p.Load(Critical), p.BlackStarts())
	}
	checkPhysics(t, p)
}

// An island with a full battery and no PV limit curtails its surplus by frequency: the frequency rises
// with the share of the PV rating curtailed, never to 51 Hz, and every step stays balanced.
func TestFullBatteryCurtailsPVByFrequency(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Start = cfg.Start.Add(12 * time.Hour)
	cfg.Battery.InitialSoC = cfg.Battery.SoCMax
	cfg.Grid.Available = false
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.SetPCC(false)
	for range 60 {
		p.Advance(time.Second)
		g := p.Grid()
		curtailed := p.PVAvailable() - p.PVOutput()
		if curtailed > 100 && (p.CurtailShift() <= 0 || g.Frequency <= 50.03 || g.Frequency >= 51) {
			t.Fatalf("%v W curtailed at %v Hz (shift %v)", float64(curtailed), g.Frequency, p.CurtailShift())
		}
	}
	if p.Counters().PVCurtailed <= 0 {
		t.Fatal("a full battery at noon curtailed nothing")
	}
	// A PV limit that leaves nothing to curtail brings the frequency back to the droop.
	p.SetPVLimit(p.Load(Critical).Demand)
	p.Advance(time.Second)
	p.Advance(time.Second)
	if p.CurtailShift() != 0 || p.Grid().Frequency > 50 {
		t.Fatalf("curtailed by set-point: shift %v, %v Hz", p.CurtailShift(), p.Grid().Frequency)
	}
	checkPhysics(t, p)
}
