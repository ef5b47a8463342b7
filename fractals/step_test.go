package fractals

import (
	"math"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

var t0 = time.Date(2026, 6, 21, 12, 0, 0, 0, time.UTC)

// snap is a healthy snapshot: grid present, half-full battery, modest loads, no PV, no EV.
func snap() Snapshot {
	at := t0
	s := Snapshot{At: at,
		PVPower: good[units.Watts](0, at), PVAvailable: good[units.Watts](0, at), PVRated: good[units.Watts](4000, at),
		BatteryPower: good[units.Watts](0, at), SoC: good[units.Fraction](0.5, at), GridForming: good(false, at),
		GridPower: good[units.Watts](0, at), GridVoltage: good[units.Volts](230, at), GridFrequency: good[units.Hertz](50, at),
		GridPresent: good(true, at), PCCClosed: good(true, at), EVConnected: good(false, at)}
	for k, d := range [NumLoads]units.Watts{300, 20, 15} {
		s.Loads[k] = LoadReadings{Power: good(d, at), Demand: good(d, at), On: good(true, at)}
	}
	return s
}

func withEV(s Snapshot, needed, delivered units.WattHours, maxP units.Watts, deadline time.Time) Snapshot {
	s.EVConnected = good(true, s.At)
	s.EVNeeded, s.EVDelivered, s.EVMaxPower = good(needed, s.At), good(delivered, s.At), good(maxP, s.At)
	s.EVDeadline = good(deadline, s.At)
	return s
}

func step(t *testing.T, cfg Config, st State, s Snapshot) (State, Commands, []Event) {
	t.Helper()
	next, c, ev := Step(&cfg, st, &s)
	for _, v := range []units.Watts{c.PVLimit, c.BatteryPower, c.EVPower} {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("non-finite command %+v", c)
		}
	}
	return next, c, ev
}

func hasEvent(ev []Event, kind string) bool {
	for _, e := range ev {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

func TestSelfConsumptionDischargesForTheLoad(t *testing.T) {
	_, c, _ := step(t, DefaultConfig(), State{}, snap())
	if c.BatteryPower != -335 {
		t.Fatalf("battery %v, want -335 W (the whole load)", c.BatteryPower)
	}
	if !c.PCCClosed || c.LoadOn != [NumLoads]bool{true, true, true} || c.EVPower != 0 {
		t.Fatalf("commands %+v", c)
	}
}

func TestSurplusChargesThenExportsThenCurtails(t *testing.T) {
	cfg := DefaultConfig()
	s := snap()
	s.PVAvailable = good[units.Watts](3335, s.At)
	_, c, _ := step(t, cfg, State{}, s)
	if c.BatteryPower != 3000 || c.PVLimit != 4000 {
		t.Fatalf("surplus 3000 W should all charge the battery: %+v", c)
	}
	// A full battery: the surplus goes to export up to its limit, the rest is curtailed.
	s.SoC = good[units.Fraction](cfg.SoCMax, s.At)
	s.PVAvailable = good[units.Watts](4000, s.At)
	cfg.MaxExport = 2000
	_, c, _ = step(t, cfg, State{}, s)
	if c.BatteryPower != 0 || c.PVLimit != 4000-(4000-335-2000) {
		t.Fatalf("full battery, 2 kW export limit: %+v", c)
	}
}

func TestReserveIsNotUsedWhileConnected(t *testing.T) {
	cfg := DefaultConfig()
	s := snap()
	s.SoC = good(cfg.Reserve, s.At)
	_, c, _ := step(t, cfg, State{}, s)
	if c.BatteryPower < 0 {
		t.Fatalf("battery discharging %v at the reserve while the grid is there", c.BatteryPower)
	}
	// Just above the reserve it may only give what keeps it above: (E − reserve) × η_d over one cycle.
	s.SoC = good(cfg.Reserve+0.00001, s.At)
	_, c, _ = step(t, cfg, State{}, s)
	maxW := float64(cfg.BatteryCapacity) * 0.00001 * float64(cfg.DischargeEff) / cfg.Cycle.Hours()
	if float64(-c.BatteryPower) > maxW+1e-6 {
		t.Fatalf("discharge %v would cross the reserve (max %v W)", c.BatteryPower, maxW)
	}
}

func TestIslandingOpensPCCAndUsesTheReserveForCriticalOnly(t *testing.T) {
	cfg := DefaultConfig()
	s := snap()
	s.GridPresent = good(false, s.At)
	s.SoC = good[units.Fraction](0.15, s.At) // inside the reserve, above the services floor
	s = withEV(s, 10000, 0, 7400, s.At.Add(time.Hour))
	st, c, ev := step(t, cfg, bootedConnected(t, cfg), s)
	if st.Mode != Islanded || c.PCCClosed || !hasEvent(ev, "island_opening") {
		t.Fatalf("grid gone: mode %v, pcc %v, events %v", st.Mode, c.PCCClosed, ev)
	}
	if !c.LoadOn[LoadCritical] || !c.LoadOn[LoadWiFi] || !c.LoadOn[LoadStorage] {
		t.Fatalf("the reserve must serve critical loads and services: %+v", c.LoadOn)
	}
	if c.EVPower != 0 {
		t.Fatalf("the EV charges %v W from the reserve", c.EVPower)
	}
	// Below the services floor only the critical circuit may draw on what is left.
	s.SoC = good[units.Fraction](0.1, s.At)
	_, c, _ = step(t, cfg, st, s)
	if !c.LoadOn[LoadCritical] || c.LoadOn[LoadWiFi] || c.LoadOn[LoadStorage] {
		t.Fatalf("below the services floor: critical only, got %+v", c.LoadOn)
	}
}

func TestIslandedEVGetsOnlyWhatTheBatteryCannotTake(t *testing.T) {
	cfg := DefaultConfig()
	s := snap()
	s.GridPresent = good(false, s.At)
	s = withEV(s, 10000, 0, 7400, s.At.Add(90*time.Minute)) // deadline near: connected, it would charge at full power
	st, c, _ := step(t, cfg, State{}, s)
	if c.EVPower != 0 || c.BatteryPower >= 0 {
		t.Fatalf("islanded at night the EV must not drain the battery: EV %v, battery %v", c.EVPower, c.BatteryPower)
	}
	// Surplus beyond what the battery can take goes to the car rather than being curtailed.
	s.PVAvailable = good[units.Watts](7835, s.At) // 335 W of loads, 5 kW into the battery, 2.5 kW left
	_, c, _ = step(t, cfg, st, s)
	if c.BatteryPower != cfg.BatteryMaxCharge || c.EVPower != 2500 {
		t.Fatalf("islanded surplus: battery %v (want %v), EV %v (want 2500)", c.BatteryPower, cfg.BatteryMaxCharge, c.EVPower)
	}
}

func TestServicesShedWhenIslandCannotCarryThemAndComeBackWithMargin(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BatteryMaxDischarge = 310 // the battery can carry critical (300 W) and nothing more
	s := snap()
	s.GridPresent = good(false, s.At)
	st, c, ev := step(t, cfg, State{}, s)
	if !c.LoadOn[LoadCritical] || c.LoadOn[LoadWiFi] || c.LoadOn[LoadStorage] || !hasEvent(ev, "shed") {
		t.Fatalf("want critical on, services shed: %+v %v", c.LoadOn, ev)
	}
	// Exactly enough supply for Wi-Fi (10 W left by critical + 10 W PV = its 20 W) is not enough to
	// restore it: it needs the hysteresis margin.
	s.PVAvailable = good[units.Watts](10, s.At)
	st, c, _ = step(t, cfg, st, s)
	if c.LoadOn[LoadWiFi] {
		t.Fatal("Wi-Fi restored without margin: the relay would chatter")
	}
	s.PVAvailable = good[units.Watts](15, s.At)
	_, c, ev = step(t, cfg, st, s)
	if !c.LoadOn[LoadWiFi] || c.LoadOn[LoadStorage] || !hasEvent(ev, "restored") {
		t.Fatalf("Wi-Fi (first in priority) should be back, storage not: %+v", c.LoadOn)
	}
}

func TestCriticalStaysOnEvenWithoutSupply(t *testing.T) {
	cfg := DefaultConfig()
	s := snap()
	s.GridPresent = good(false, s.At)
	s.SoC = good(cfg.SoCMin, s.At)
	_, c, _ := step(t, cfg, State{}, s)
	if !c.LoadOn[LoadCritical] {
		t.Fatal("critical circuit switched off")
	}
}

// bootedConnected is the state after one healthy cycle a second before t0.
func bootedConnected(t *testing.T, cfg Config) State {
	t.Helper()
	s := snap()
	s.At = t0.Add(-time.Second)
	st, c, _ := step(t, cfg, State{}, s)
	if st.Island.Phase != PhaseConnected || !c.PCCClosed {
		t.Fatalf("healthy boot: phase %v, pcc %v", st.Island.Phase, c.PCCClosed)
	}
	return st
}

// utilityBack is a snapshot of an islanded unit whose utility side is present at nominal, phase off by
// phaseDeg.
func utilityBack(at time.Time, phaseDeg float64) Snapshot {
	s := snap()
	s.At = at
	s.PCCClosed = good(false, at)
	s.Utility = good(UtilitySide{Voltage: 230, Frequency: 50, PhaseDeg: phaseDeg}, at)
	return s
}

func TestReconnectsOnlyAfterEnterServiceAndSynchronisation(t *testing.T) {
	cfg := DefaultConfig()
	// Booted during an outage: islanded straight away.
	s := snap()
	s.GridPresent, s.PCCClosed = good(false, s.At), good(false, s.At)
	st, _, _ := step(t, cfg, State{}, s)
	s.At = s.At.Add(time.Second)
	st, c, ev := step(t, cfg, st, s)
	if st.Island.Phase != PhaseIslanded || c.PCCClosed || !c.GridForming || !hasEvent(ev, "island_islanded") {
		t.Fatalf("boot in an outage: phase %v, pcc %v, forming %v, events %v", st.Island.Phase, c.PCCClosed, c.GridForming, ev)
	}
	start := s.At
	at := func(d time.Duration) time.Time { return start.Add(d) }
	st, _, _ = step(t, cfg, st, utilityBack(at(time.Second), 90))
	st, _, _ = step(t, cfg, st, utilityBack(at(cfg.ReconnectDelay-time.Second), 90))
	if st.Island.Phase != PhaseIslanded {
		t.Fatalf("left the island before the enter-service delay: %v", st.Island.Phase)
	}
	// A frequency excursion on the utility side restarts the wait.
	blip := utilityBack(at(cfg.ReconnectDelay), 90)
	blip.Utility.Value.Frequency = 51.5
	st, _, _ = step(t, cfg, st, blip)
	st, _, _ = step(t, cfg, st, utilityBack(at(cfg.ReconnectDelay+2*time.Second), 90))
	if st.Island.Phase != PhaseIslanded {
		t.Fatalf("an excursion did not restart the enter-service delay: %v", st.Island.Phase)
	}
	st, c, ev = step(t, cfg, st, utilityBack(at(2*cfg.ReconnectDelay+4*time.Second), 90))
	if st.Island.Phase != PhaseSynchronising || c.PCCClosed || math.Abs(float64(c.FrequencySet-50-cfg.Protecting().Sync.Slip)) > 1e-9 {
		t.Fatalf("after a stable delay, out of phase: want synchronising with a slip set-point, got %v, %+v, %v", st.Island.Phase, c, ev)
	}
	st, c, ev = step(t, cfg, st, utilityBack(at(2*cfg.ReconnectDelay+5*time.Second), 5))
	if st.Island.Phase != PhaseClosing || !c.PCCClosed || !hasEvent(ev, "island_closing") {
		t.Fatalf("in phase: want closing, got %v, %+v, %v", st.Island.Phase, c, ev)
	}
	closed := utilityBack(at(2*cfg.ReconnectDelay+6*time.Second), 0)
	closed.PCCClosed = good(true, closed.At)
	closed.PVAvailable = good[units.Watts](3000, closed.At)
	st, c, ev = step(t, cfg, st, closed)
	if st.Mode != Connected || !c.PCCClosed || c.GridForming || !hasEvent(ev, "island_connected") {
		t.Fatalf("PCC closed: want connected, got %v, %+v, %v", st.Island.Phase, c, ev)
	}
	if c.PVLimit > 100 {
		t.Fatalf("PV not ramped after reconnection: limit %v", c.PVLimit)
	}
}

func TestStaleMeterNeitherIslandsNorReconnects(t *testing.T) {
	cfg := DefaultConfig()
	s := snap()
	s.GridPresent.Quality = Stale
	s.GridPresent.Value = false
	st, _, _ := step(t, cfg, State{}, s)
	if st.Mode != Connected {
		t.Fatal("a stale meter islanded the unit")
	}
}

func TestBootWithoutMeterNeitherIslandsNorRuns(t *testing.T) {
	cfg := DefaultConfig()
	s := snap()
	s.GridPresent = Reading[bool]{} // never read
	st, c, _ := step(t, cfg, State{}, s)
	if st.Mode != Connected || !c.PCCClosed || !st.Safe || c.BatteryPower != 0 {
		t.Fatalf("meter not read yet: stay connected in safe mode, got %+v %+v", st, c)
	}
	// Lost for longer than the stale limit after having been read: no utility to trust, island.
	s.GridPresent = Reading[bool]{Quality: Missing, At: s.At.Add(-time.Minute)}
	st, c, _ = step(t, cfg, State{}, s)
	if st.Mode != Islanded || c.PCCClosed {
		t.Fatalf("meter lost: want islanded, got %+v %+v", st, c)
	}
}

func TestSafeModeWhenSoCMissing(t *testing.T) {
	s := withEV(snap(), 10000, 0, 7400, t0.Add(time.Hour))
	s.SoC = Reading[units.Fraction]{}
	st, c, ev := step(t, DefaultConfig(), State{}, s)
	if !st.Safe || c.BatteryPower != 0 || c.EVPower != 0 || !hasEvent(ev, "safe_mode") {
		t.Fatalf("missing SoC: want safe mode with battery idle and EV paused, got %+v %+v", st, c)
	}
	if !c.LoadOn[LoadCritical] {
		t.Fatal("safe mode switched the critical load off")
	}
	s.SoC = good[units.Fraction](0.5, s.At)
	st, _, ev = step(t, DefaultConfig(), st, s)
	if st.Safe || !hasEvent(ev, "safe_mode_end") {
		t.Fatal("safe mode did not end when the SoC came back")
	}
}

func TestEVWaitsForSurplusThenChargesInTime(t *testing.T) {
	cfg := DefaultConfig()
	// Plenty of time: no surplus, no charge.
	s := withEV(snap(), 10000, 0, 7400, t0.Add(6*time.Hour))
	_, c, _ := step(t, cfg, State{}, s)
	if c.EVPower != 0 {
		t.Fatalf("EV charging %v from the grid with hours to spare", c.EVPower)
	}
	// Surplus PV above the charger's minimum goes to the car before the battery.
	s.PVAvailable = good[units.Watts](2335, s.At)
	_, c, _ = step(t, cfg, State{}, s)
	if c.EVPower != 2000 || c.BatteryPower != 0 {
		t.Fatalf("surplus 2000 W: EV %v, battery %v", c.EVPower, c.BatteryPower)
	}
	// Surplus below the minimum is not used by the car.
	s.PVAvailable = good[units.Watts](1335, s.At)
	_, c, _ = step(t, cfg, State{}, s)
	if c.EVPower != 0 || c.BatteryPower != 1000 {
		t.Fatalf("surplus 1000 W below the 1.4 kW minimum: EV %v, battery %v", c.EVPower, c.BatteryPower)
	}
	// Close to the deadline: full power from the grid, not from the home battery.
	s = withEV(snap(), 10000, 0, 7400, t0.Add(90*time.Minute))
	_, c, _ = step(t, cfg, State{}, s)
	if c.EVPower != 7400 || c.BatteryPower != -335 {
		t.Fatalf("deadline near: EV %v (want 7400), battery %v (want -335, the house only)", c.EVPower, c.BatteryPower)
	}
}

func TestEVInfeasibleIsReported(t *testing.T) {
	s := withEV(snap(), 10000, 0, 7400, t0.Add(30*time.Minute))
	st, c, ev := step(t, DefaultConfig(), State{}, s)
	if !st.EVInfeasible || !hasEvent(ev, "ev_infeasible") || c.EVPower != 7400 {
		t.Fatalf("10 kWh in 30 min at 7.4 kW is infeasible: state %+v, EV %v, events %v", st, c.EVPower, ev)
	}
}

func TestGridImportLimitShedsServicesNotCritical(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxImport = 310
	s := snap()
	s.SoC = good(cfg.Reserve, s.At) // no battery to help
	_, c, _ := step(t, cfg, State{}, s)
	if !c.LoadOn[LoadCritical] || c.LoadOn[LoadWiFi] {
		t.Fatalf("310 W import limit: critical on, Wi-Fi shed, got %+v", c.LoadOn)
	}
}

func TestSetpointArbitration(t *testing.T) {
	a := setpoint{lo: -5000, hi: 5000}
	a.pin(0) // a higher controller pins
	a.narrow(-100, 100)
	a.set(3000) // a lower one tries to move it
	if a.value != 0 || a.lo != 0 || a.hi != 0 {
		t.Fatalf("lower controller overrode a pinned set-point: %+v", a)
	}
	b := setpoint{lo: -5000, hi: 5000}
	b.narrow(0, 5000)
	b.narrow(-3000, -1000) // disjoint from what the higher one allowed: ignored
	if b.lo != 0 || b.hi != 5000 {
		t.Fatalf("disjoint request widened or emptied the range: %+v", b)
	}
	var r relay
	r.lock(true)
	r.lock(false)
	if !r.on {
		t.Fatal("a lower controller switched a locked relay")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Reserve = 0.99
	c.Cycle = time.Millisecond
	err := c.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"reserve", "cycle"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// BenchmarkStep is the controller alone on a busy snapshot; it must not allocate on the steady path.
func BenchmarkStep(b *testing.B) {
	cfg := DefaultConfig()
	s := withEV(snap(), 10000, 2000, 7400, t0.Add(2*time.Hour))
	s.PVAvailable = good[units.Watts](2500, s.At)
	st := State{}
	b.ReportAllocs()
	for b.Loop() {
		st, _, _ = Step(&cfg, st, &s)
	}
}
