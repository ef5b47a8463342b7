package fractals

import (
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// scheduled is a state committed to net exchange w (positive importing) for the hour around t0.
func scheduled(w, ev units.Watts) State {
	return State{Schedule: Schedule{Start: t0.Add(-time.Minute), End: t0.Add(14 * time.Minute), NetExchange: w, EV: ev}}
}

// net is the exchange at the PCC that commands c give for snapshot s (all PV up to its limit used).
func net(s Snapshot, c Commands) units.Watts {
	var loads units.Watts
	for k := range c.LoadOn {
		if c.LoadOn[k] {
			loads += s.Loads[k].Demand.Value
		}
	}
	return loads + c.EVPower + c.BatteryPower - min(s.PVAvailable.Value, c.PVLimit)
}

func TestMarketHoldsTheCommittedExport(t *testing.T) {
	s := snap()
	s.PVAvailable = good[units.Watts](3335, s.At)
	// Without a schedule the surplus charges the battery; committed to export 2 kW, the battery takes
	// only the rest.
	_, c, _ := step(t, DefaultConfig(), scheduled(-2000, 0), s)
	if c.BatteryPower != 1000 || net(s, c) != -2000 {
		t.Fatalf("committed export 2000 W: battery %v, net %v, want 1000 W and -2000 W", c.BatteryPower, net(s, c))
	}
}

func TestMarketCommittedImportChargesTheBattery(t *testing.T) {
	s := snap()
	_, c, _ := step(t, DefaultConfig(), scheduled(1500, 0), s)
	if c.BatteryPower != 1165 || net(s, c) != 1500 {
		t.Fatalf("committed import 1500 W: battery %v, net %v", c.BatteryPower, net(s, c))
	}
}

func TestMarketCannotDischargeBelowTheReserve(t *testing.T) {
	cfg := DefaultConfig()
	s := snap()
	s.SoC = good(cfg.Reserve, s.At)
	// Committed to export 2 kW with no PV: only the battery could, and connected it stops at the reserve.
	_, c, _ := step(t, cfg, scheduled(-2000, 0), s)
	if c.BatteryPower != 0 || net(s, c) != 335 {
		t.Fatalf("at the reserve: battery %v, net %v, want 0 and the loads' 335 W imported", c.BatteryPower, net(s, c))
	}
}

func TestMarketCurtailsWhenTheBatteryIsFull(t *testing.T) {
	cfg := DefaultConfig()
	s := snap()
	s.SoC = good(cfg.SoCMax, s.At)
	s.PVAvailable = good[units.Watts](3335, s.At)
	_, c, _ := step(t, cfg, scheduled(-1000, 0), s)
	if c.BatteryPower != 0 || c.PVLimit != 1335 || net(s, c) != -1000 {
		t.Fatalf("full battery, 1 kW committed export: %+v, net %v", c, net(s, c))
	}
}

func TestMarketKeepsCriticalAndServicesOn(t *testing.T) {
	s := snap()
	// Committed to export far more than the unit has: loads stay on, the battery gives its limit.
	_, c, _ := step(t, DefaultConfig(), scheduled(-20000, 0), s)
	if c.LoadOn != [NumLoads]bool{true, true, true} {
		t.Fatalf("loads switched off to meet a trade: %+v", c.LoadOn)
	}
	if c.BatteryPower != -3335 || net(s, c) != -3000 {
		t.Fatalf("battery %v, net %v, want -3335 W and -3000 W (the export limit caps the commitment)", c.BatteryPower, net(s, c))
	}
}

func TestMarketIgnoredIslandedSafeOrOutOfPeriod(t *testing.T) {
	cfg := DefaultConfig()
	base := snap()
	_, free, _ := step(t, cfg, State{}, base)
	cases := map[string]func() (State, Snapshot){
		"islanded": func() (State, Snapshot) {
			st := scheduled(2000, 0)
			st.Mode = Islanded
			s := base
			s.GridPresent = good(false, s.At)
			return st, s
		},
		"safe": func() (State, Snapshot) {
			s := base
			s.SoC = Reading[units.Fraction]{}
			return scheduled(2000, 0), s
		},
		"expired": func() (State, Snapshot) {
			st := scheduled(2000, 0)
			st.Schedule.End = t0
			return st, base
		},
	}
	for name, mk := range cases {
		st, s := mk()
		_, c, _ := step(t, cfg, st, s)
		if c.BatteryPower == free.BatteryPower+2335 {
			t.Errorf("%s: the schedule was followed: %+v", name, c)
		}
		if name == "safe" && c.BatteryPower != 0 {
			t.Errorf("safe mode: battery %v, want idle", c.BatteryPower)
		}
		if name == "islanded" && c.BatteryPower != -335 {
			t.Errorf("islanded: battery %v, want -335 W (the loads, nothing exchanged)", c.BatteryPower)
		}
	}
}

func TestMarketEVFollowsCommitmentUntilTheDeadlinePresses(t *testing.T) {
	cfg := DefaultConfig()
	s := withEV(snap(), 10000, 0, 7000, t0.Add(10*time.Hour))
	_, c, _ := step(t, cfg, scheduled(3335, 3000), s)
	if c.EVPower != 3000 || net(s, c) != 3335 {
		t.Fatalf("committed EV 3 kW: EV %v, net %v", c.EVPower, net(s, c))
	}
	// Deadline in 1 h 20 min, 10 kWh still needed: full power whatever the market committed.
	s = withEV(snap(), 10000, 0, 7000, t0.Add(80*time.Minute))
	_, c, _ = step(t, cfg, scheduled(335, 0), s)
	if c.EVPower != 7000 {
		t.Fatalf("deadline pressing: EV %v, want 7000 W", c.EVPower)
	}
}

func TestStepWithScheduleDoesNotAllocate(t *testing.T) {
	cfg := DefaultConfig()
	s := snap()
	s.PVAvailable = good[units.Watts](3000, s.At)
	// Booted a second earlier, so every measured Step runs a full protection tick, not the boot.
	first := s
	first.At = s.At.Add(-time.Second)
	st, _, _ := Step(&cfg, scheduled(-1000, 0), &first)
	if n := testing.AllocsPerRun(100, func() { Step(&cfg, st, &s) }); n != 0 {
		t.Fatalf("%v allocations per Step with a schedule", n)
	}
}
