package fractals

import (
	"testing"
	"time"
)

// A site without a utility-side sensor reconnects by an open transition: presence for the
// enter-service delay, the island ceases, the PCC closes onto the dead bus, and output ramps once
// the meter reads the utility inside the window.
func TestOpenTransitionWithoutUtilitySensor(t *testing.T) {
	cfg := DefaultConfig()
	st := bootedConnected(t, cfg)
	s := snap()
	if !noUtilitySensor(SampleOf(&s)) {
		t.Fatal("the test snapshot must have no utility-side reading")
	}
	s.GridPresent = good(false, s.At)
	st, _, _ = run(t, cfg, st, s, 0)
	s.PCCClosed = good(false, s.At)
	st, c, _ := run(t, cfg, st, s, time.Second)
	if st.Island.Phase != PhaseIslanded || !c.GridForming {
		t.Fatalf("outage: want islanded and forming, got %v %+v", st.Island.Phase, c)
	}
	s.GridPresent = good(true, s.At) // utility back; the meter still reads the island
	var ev []Event
	at := 2 * time.Second
	for ; at <= 2*time.Second+cfg.ReconnectDelay+time.Second && st.Island.Phase != PhaseOpenCease; at += time.Second {
		var e []Event
		st, c, e = run(t, cfg, st, s, at)
		ev = append(ev, e...)
	}
	if at < cfg.ReconnectDelay {
		t.Fatalf("open transition after %v, before the enter-service delay %v", at, cfg.ReconnectDelay)
	}
	if st.Island.Phase != PhaseOpenCease || !hasEvent(ev, "island_open_transition_cease") {
		t.Fatalf("utility present for the enter-service delay: want the open transition's cease, got %v %v", st.Island.Phase, ev)
	}
	if c.GridForming || c.PCCClosed || c.BatteryPower != 0 || c.PVLimit != 0 {
		t.Fatalf("the island must go dark with the PCC still open: %+v", c)
	}
	st, c, ev = run(t, cfg, st, s, at+openTransitionDeadTime)
	if st.Island.Phase != PhaseOpenClose || !c.PCCClosed || c.GridForming || c.BatteryPower != 0 || !hasEvent(ev, "island_open_transition_close") {
		t.Fatalf("after the dead time: want the PCC commanded closed, DER still ceased: %v %+v %v", st.Island.Phase, c, ev)
	}
	s.PCCClosed = good(true, s.At) // the meter now reads the utility (snap's 230 V, 50 Hz)
	st, _, ev = run(t, cfg, st, s, at+openTransitionDeadTime+time.Second)
	if st.Island.Phase != PhaseConnected || st.Protection.RampFraction >= 1 || !hasEvent(ev, "island_connected") {
		t.Fatalf("PCC closed on the utility's window: want connected and ramping, got %v ramp %v %v", st.Island.Phase, st.Protection.RampFraction, ev)
	}
}

// Closing onto a utility the meter reads outside the enter-service window opens the PCC again.
func TestOpenTransitionOutOfWindowOpensAgain(t *testing.T) {
	cfg := DefaultConfig()
	st := bootedConnected(t, cfg)
	s := snap()
	s.GridPresent = good(false, s.At)
	st, _, _ = run(t, cfg, st, s, 0)
	s.PCCClosed = good(false, s.At)
	s.GridPresent = good(true, s.At)
	var offs []time.Duration
	for d := time.Second; d <= cfg.ReconnectDelay+5*time.Second; d += time.Second {
		offs = append(offs, d)
	}
	st, _, _ = run(t, cfg, st, s, offs...)
	if st.Island.Phase != PhaseOpenClose {
		t.Fatalf("want the open transition's close, got %v", st.Island.Phase)
	}
	s.PCCClosed = good(true, s.At)
	s.GridFrequency = good(cfg.NominalFrequency+2, s.At) // the utility, read by the meter, out of window
	at := offs[len(offs)-1]
	offs = offs[:0]
	for d := time.Second; d <= 30*time.Second; d += time.Second {
		offs = append(offs, at+d)
	}
	st, c, ev := run(t, cfg, st, s, offs...)
	if !hasEvent(ev, "island_opening") || hasEvent(ev, "island_connected") {
		t.Fatalf("utility outside the window after closing: want the PCC opened again, got %v %+v %v", st.Island.Phase, c, ev)
	}
}
