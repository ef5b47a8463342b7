package fractals

import (
	"math"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// run steps the controller on s at each of the given offsets from s.At, returning the last state and
// commands and every event.
func run(t *testing.T, cfg Config, st State, s Snapshot, offsets ...time.Duration) (State, Commands, []Event) {
	t.Helper()
	var all []Event
	var c Commands
	base := s.At
	for _, d := range offsets {
		s.At = base.Add(d)
		var ev []Event
		st, c, ev = step(t, cfg, st, s)
		all = append(all, ev...)
	}
	return st, c, all
}

func seconds(n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i) * time.Second
	}
	return out
}

func TestStuckPCCCeasesToEnergizeUntilItOpens(t *testing.T) {
	cfg := DefaultConfig()
	st := bootedConnected(t, cfg)
	s := snap()
	s.GridPresent = good(false, s.At) // utility gone, contactor feedback stays closed
	s.PVAvailable = good[units.Watts](2000, s.At)
	st, c, ev := run(t, cfg, st, s, 0)
	if st.Island.Phase != PhaseOpening || c.PCCClosed || c.GridForming {
		t.Fatalf("grid lost: want the PCC opening and forming only once it is open, got phase %v, %+v", st.Island.Phase, c)
	}
	redrives := 0
	for i := 1; i <= 4; i++ {
		var e []Event
		st, c, e = run(t, cfg, st, s, time.Duration(i)*time.Second)
		ev = append(ev, e...)
		if c.Redrive.PCC {
			redrives++
		}
	}
	if st.Island.Phase != PhaseStuckClosed || !hasEvent(ev, "island_stuck_closed") {
		t.Fatalf("PCC never opened: phase %v, events %v", st.Island.Phase, ev)
	}
	if redrives < cfg.Protecting().SwitchRetries {
		t.Fatalf("the open command was re-driven %d times, want %d", redrives, cfg.Protecting().SwitchRetries)
	}
	if c.PVLimit != 0 || c.BatteryPower != 0 || c.GridForming || c.PCCClosed {
		t.Fatalf("stuck closed in an outage must cease to energize with the PCC commanded open: %+v", c)
	}
	s.PCCClosed = good(false, s.At)
	st, c, ev = run(t, cfg, st, s, 6*time.Second)
	if st.Island.Phase != PhaseIslanded || !c.GridForming || c.PVLimit == 0 || !hasEvent(ev, "island_islanded") {
		t.Fatalf("contactor opened at last: phase %v, %+v, %v", st.Island.Phase, c, ev)
	}
}

func TestDeepSagCeasesToEnergizeThenIslands(t *testing.T) {
	cfg := DefaultConfig()
	st := bootedConnected(t, cfg)
	s := snap()
	s.PVAvailable = good[units.Watts](2000, s.At)
	s.GridVoltage = good[units.Volts](0.2*230, s.At) // below every category II ride-through region
	// A second after the last sample UV2 (0.45 p.u., 0.16 s) has tripped: the DER ceases and the PCC
	// opens; once it is open the relay is reset and the battery forms the island.
	st, c, ev := run(t, cfg, st, s, 0)
	if c.PVLimit != 0 || c.BatteryPower != 0 || c.PCCClosed || !hasEvent(ev, "cease_to_energize") || !hasEvent(ev, "trip") ||
		st.Island.Phase != PhaseOpening {
		t.Fatalf("0.2 p.u.: want cease to energize and the PCC opening, got %v %+v %v", st.Island.Phase, c, ev)
	}
	st, c, _ = run(t, cfg, st, s, 100*time.Millisecond)
	if c.PVLimit != 0 || c.BatteryPower != 0 {
		t.Fatalf("tripped, PCC not yet open: must stay ceased, got %+v", c)
	}
	s.PCCClosed = good(false, s.At)
	s.GridVoltage = good[units.Volts](230, s.At) // the island's own voltage
	st, c, _ = run(t, cfg, st, s, 700*time.Millisecond, 800*time.Millisecond)
	if st.Island.Phase != PhaseIslanded || c.PVLimit == 0 || !st.Protection.Energize {
		t.Fatalf("island formed: phase %v, %+v, energize %v", st.Island.Phase, c, st.Protection.Energize)
	}
}

func TestIslandCollapseBlackStarts(t *testing.T) {
	cfg := DefaultConfig()
	s := snap()
	s.GridPresent, s.PCCClosed = good(false, s.At), good(false, s.At)
	st, _, _ := run(t, cfg, State{}, s, 0, time.Second)
	if st.Island.Phase != PhaseIslanded {
		t.Fatalf("boot in an outage: %v", st.Island.Phase)
	}
	// The island's frequency collapses below UF2 (56.5 Hz at 60 Hz: 47.08 Hz at 50).
	s.GridFrequency = good[units.Hertz](46, s.At)
	st, c, ev := run(t, cfg, st, s, 2*time.Second, 3*time.Second)
	if st.Island.Phase != PhaseBlackout || c.GridForming || c.PVLimit != 0 || !hasEvent(ev, "trip") {
		t.Fatalf("collapse: phase %v, %+v, %v", st.Island.Phase, c, ev)
	}
	s.GridFrequency = good[units.Hertz](0, s.At) // dark
	st, _, _ = run(t, cfg, st, s, 4*time.Second)
	if st.Island.Phase != PhaseBlackout {
		t.Fatalf("black start before its delay: %v", st.Island.Phase)
	}
	if !c.CeaseToEnergize {
		t.Fatalf("blackout: the inverters must be told to cease (the disconnect a black start needs): %+v", c)
	}
	start := 3*time.Second + cfg.Protecting().BlackStartDelay
	st, c, ev = run(t, cfg, st, s, start)
	if st.Island.Phase != PhaseIslanded || !c.GridForming || c.CeaseToEnergize || !hasEvent(ev, "island_islanded") {
		t.Fatalf("black start: phase %v, %+v, %v", st.Island.Phase, c, ev)
	}
	// The bus is still dark while the inverter brings it up: no new blackout for blackStartRise.
	st, _, ev = run(t, cfg, st, s, start+time.Second, start+2*time.Second)
	if st.Island.Phase != PhaseIslanded || hasEvent(ev, "island_blackout") {
		t.Fatalf("the black-started bus rising: phase %v, %v", st.Island.Phase, ev)
	}
	// Still dark after it: the black start failed, dark again until the next try.
	st, c, _ = run(t, cfg, st, s, start+blackStartRise+time.Second, start+blackStartRise+2*time.Second)
	if st.Island.Phase != PhaseBlackout || !c.CeaseToEnergize {
		t.Fatalf("a bus still dark after the rise: phase %v, %+v", st.Island.Phase, c)
	}
}

func TestPlannedIslandOnCommand(t *testing.T) {
	cfg := DefaultConfig()
	st := RequestIsland(bootedConnected(t, cfg), true)
	s := snap()
	st, c, ev := run(t, cfg, st, s, 0)
	if st.Island.Phase != PhaseOpening || c.PCCClosed || !hasEvent(ev, "island_opening") {
		t.Fatalf("planned island: %v %+v", st.Island.Phase, c)
	}
	s.PCCClosed = good(false, s.At)
	s.Utility = good(UtilitySide{Voltage: 230, Frequency: 50}, s.At)
	st, _, _ = run(t, cfg, st, s, seconds(400)...)
	if st.Island.Phase != PhaseIslanded {
		t.Fatalf("a planned island must hold while commanded, with the utility fine: %v", st.Island.Phase)
	}
	st = RequestIsland(st, false)
	st, _, _ = run(t, cfg, st, s, 400*time.Second, 401*time.Second, 400*time.Second+cfg.ReconnectDelay+time.Second, 400*time.Second+cfg.ReconnectDelay+2*time.Second)
	if st.Island.Phase != PhaseClosing {
		t.Fatalf("command withdrawn, utility in window and in phase: want closing, got %v", st.Island.Phase)
	}
}

func TestLoadRelaySupervisionRedrivesThenFaults(t *testing.T) {
	cfg := DefaultConfig()
	st := bootedConnected(t, cfg)
	s := snap()
	s.Loads[LoadCritical].On = good(false, s.At) // a coil switched off from outside
	redriven := 0
	var ev []Event
	for i := 0; i < 6; i++ {
		var c Commands
		var e []Event
		st, c, e = run(t, cfg, st, s, time.Duration(i)*time.Second)
		ev = append(ev, e...)
		if !c.LoadOn[LoadCritical] {
			t.Fatal("critical load commanded off")
		}
		if c.Redrive.Loads[LoadCritical] {
			redriven++
		}
	}
	if redriven != cfg.Protecting().SwitchRetries || !hasEvent(ev, "relay_fault") {
		t.Fatalf("re-driven %d times (want %d), events %v", redriven, cfg.Protecting().SwitchRetries, ev)
	}
	s.Loads[LoadCritical].On = good(true, s.At)
	_, _, ev = run(t, cfg, st, s, 7*time.Second)
	if !hasEvent(ev, "relay_fault_cleared") {
		t.Fatalf("feedback agrees again: %v", ev)
	}
}

func TestServicesDegradeInStepsAndRestoreInReverse(t *testing.T) {
	cfg := DefaultConfig()
	s := snap()
	s.GridPresent, s.PCCClosed = good(false, s.At), good(false, s.At)
	st, _, _ := run(t, cfg, State{}, s, 0, time.Second)
	var steps []ServiceStep
	at := 2 * time.Second
	soc := float64(cfg.Reserve) + 0.01
	visit := func(to float64) {
		for ; math.Abs(soc-to) > 1e-9; at += time.Second {
			soc += math.Copysign(math.Min(0.001, math.Abs(to-soc)), to-soc)
			s.SoC = good(units.Fraction(soc), s.At)
			var c Commands
			st, c, _ = run(t, cfg, st, s, at)
			if len(steps) == 0 || steps[len(steps)-1] != c.ServiceStep {
				steps = append(steps, c.ServiceStep)
			}
		}
	}
	visit(float64(cfg.ServicesFloor) + 0.001)
	visit(float64(cfg.Reserve) + 0.05)
	want := []ServiceStep{ServiceFull, ServiceNoReplication, ServiceReadOnly, ServiceClientLimit, ServiceWiFiOff,
		ServiceClientLimit, ServiceReadOnly, ServiceNoReplication, ServiceFull}
	if len(steps) != len(want) {
		t.Fatalf("steps %v, want %v", steps, want)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Fatalf("steps %v, want %v", steps, want)
		}
	}
}

// Bad samples never panic Protect and never leave it energizing on a failed measurement.
func FuzzProtect(f *testing.F) {
	f.Add(230.0, 50.0, 0.0, true, true, 100, 230.0, 50.0, 10.0)
	f.Add(math.NaN(), 50.0, 0.0, false, true, 20, 0.0, 0.0, 0.0)
	f.Add(10.0, 46.0, 400.0, true, false, 1000, 240.0, 50.2, -170.0)
	f.Fuzz(func(t *testing.T, v, hz, phase float64, present, closed bool, tickMS int, uv, uf, uphase float64) {
		cfg := DefaultConfig()
		st := State{}
		m := ProtectionSample{At: t0, Voltage: good(units.Volts(230), t0), Frequency: good(units.Hertz(50), t0),
			GridPresent: good(true, t0), PCCClosed: good(true, t0)}
		st, _ = Protect(&cfg, st, m)
		tick := time.Duration(max(1, min(tickMS, 2000))) * time.Millisecond
		for i := 1; i <= 30; i++ {
			at := t0.Add(time.Duration(i) * tick)
			m = ProtectionSample{At: at, Voltage: good(units.Volts(v), at), Frequency: good(units.Hertz(hz), at), PhaseDeg: phase,
				GridPresent: good(present, at), PCCClosed: good(closed, at),
				Utility: good(UtilitySide{Voltage: units.Volts(uv), Frequency: units.Hertz(uf), PhaseDeg: uphase}, at)}
			st, _ = Protect(&cfg, st, m)
			if st.Protection.Energize && (math.IsNaN(v) || math.IsNaN(hz) || math.IsInf(v, 0) || math.IsInf(hz, 0)) && st.Island.Phase == PhaseConnected {
				t.Fatalf("energizing on a failed measurement v=%v f=%v", v, hz)
			}
		}
	})
}

// Without a measured phase, an off-nominal but steady frequency is no vector shift.
func TestSteadyOffNominalFrequencyIsNoVectorShift(t *testing.T) {
	cfg := DefaultConfig()
	st := bootedConnected(t, cfg)
	s := snap()
	s.GridFrequency = good[units.Hertz](49.6, s.At) // continuous operation, above the detector's 49.42 Hz
	st, _, ev := run(t, cfg, st, s, seconds(30)...)
	if st.Island.Phase != PhaseConnected {
		t.Fatalf("49.6 Hz for 30 s islanded the unit: %v", ev)
	}
}
