package fractals

import (
	"fmt"

	"github.com/fractals-energy/fractals/internal/units"
)

// protect keeps the battery inside the BMS's limits and, when the readings the plan depends on are
// missing, pins safe set-points: battery idle, EV paused.
func protect(p *plan) {
	s := &p.s
	safe := s.SoC.Quality == Missing || (s.GridPresent.Quality == Missing && p.prev.Mode == Connected)
	if safe != p.prev.Safe {
		p.next.Safe = safe
		if safe {
			p.event("safe_mode", "state of charge or grid meter missing: battery idle, EV paused")
		} else {
			p.event("safe_mode_end", "readings back")
		}
	}
	if safe {
		p.battery.pin(0)
		p.ev.pin(0)
		return
	}
	p.battery.narrow(-p.dischargeTo(p.cfg.SoCMin), p.chargeTo(p.cfg.SoCMax))
}

// island applies the island state machine (stepped by Protect) to the plan: the PCC follows the phase,
// the DER ceases to energize when its relay says so, when the PCC is stuck closed during an outage
// and during a blackout, and its output is ramped after reconnection.
func island(p *plan) {
	ph := p.next.Island.Phase
	p.pcc.lock(ph.PCCWanted())
	prot := &p.next.Protection
	// While the PCC may still be closed (connected, or opening and not yet confirmed open) the relay's
	// word holds: the DER must not energize the utility against it.
	cease := ph.ceased() || ((ph == PhaseConnected || ph == PhaseOpening) && prot.Ready && !prot.Energize)
	// The disconnect goes out only where the grid-forming inverter itself must stop (stuck PCC,
	// blackout): the relay's momentary cessation and an open transition's dead bus are carried by
	// the zero set-points below (a real hybrid disconnected by model 123 Conn in an open transition
	// did not come back to close the PCC in the two-process test), so the battery can form the
	// island the moment the PCC is open.
	p.cease = ph == PhaseStuckClosed || ph == PhaseBlackout
	if cease || !prot.Ready {
		p.pvLimit.pin(0)
		p.battery.pin(0)
		p.ev.pin(0)
		return
	}
	if ph == PhaseConnected {
		gridSupport(p)
		p.frequencyShift = p.cfg.Protecting().FrequencyShift
	}
	if ph == PhaseConnected && prot.RampFraction < 1 {
		frac := units.Watts(max(0, prot.RampFraction))
		p.pvLimit.narrow(0, frac*p.pvLimit.hi)
		p.battery.narrow(frac*p.battery.lo, p.battery.hi)
	}
}

// reserve sets the power pools. Connected, the battery may only discharge down to the reserve;
// islanded, the reserve opens to critical loads and the unit's own services down to the services
// floor, and below it to critical loads alone. Islanded, the floor is raised to the night reserve
// (nightreserve.go) and the reserve with it, so the night's critical energy is kept from the services.
func reserve(p *plan) {
	if p.next.Mode == Connected {
		p.battery.narrow(-p.dischargeTo(p.cfg.Reserve), p.battery.hi)
	}
	top := p.cfg.Reserve
	if p.next.Mode == Islanded {
		top = p.reserveTop()
	}
	p.pool = pools{
		pv:      p.pvAvail,
		battery: min(p.dischargeTo(top), max(0, -p.battery.lo)),
		charge:  min(p.chargeTo(p.cfg.SoCMax), max(0, p.battery.hi)),
	}
	if p.next.Mode == Islanded {
		limit := max(0, -p.battery.lo)
		toFloor := min(p.dischargeTo(p.servicesFloor()), limit)
		p.pool.reserve = max(0, toFloor-p.pool.battery)
		p.pool.last = max(0, min(p.dischargeTo(p.cfg.SoCMin), limit)-toFloor)
	} else {
		p.pool.grid, p.pool.export = p.cfg.MaxImport, p.cfg.MaxExport
	}
}

// serveCritical keeps the critical circuit on, whatever it takes.
func serveCritical(p *plan) {
	p.loads[LoadCritical].lock(true)
	p.take(p.demand[LoadCritical], &p.pool.pv, &p.pool.battery, &p.pool.reserve, &p.pool.last, &p.pool.grid)
}

// serveServices keeps the Wi-Fi access point and IGFS storage on while there is supply for them, the
// access point first: it carries the mesh that the market and payments run on. A shed service comes
// back only with a margin, so its relay does not chatter.
func serveServices(p *plan) {
	for _, k := range [...]LoadKind{LoadWiFi, LoadStorage} {
		need := p.demand[k]
		margin := units.Watts(0)
		if p.prev.Shed[k] {
			margin = units.Watts(float64(need)*float64(p.cfg.ServiceHysteresis)) + 1
		}
		on := available(&p.pool.pv, &p.pool.battery, &p.pool.reserve, &p.pool.grid) >= need+margin
		p.loads[k].lock(on)
		if on {
			p.take(need, &p.pool.pv, &p.pool.battery, &p.pool.reserve, &p.pool.grid)
		}
		if shed := !on; shed != p.prev.Shed[k] {
			p.next.Shed[k] = shed
			if shed {
				p.event("shed", fmt.Sprintf("%s off: %.0f W needed, not enough supply", k, float64(need)))
			} else {
				p.event("restored", k.String()+" back on")
			}
		}
	}
}

// optimise uses what is left: the EV by its deadline, the battery for self-consumption, export within
// its limit, and PV curtailment for the rest (islanded by frequency shift, when so configured, the
// grid-forming inverter's job). Connected, surplus PV goes to the car before the battery
// (the grid backs both up); islanded, the battery refills first, because it carries the night.
func optimise(p *plan) {
	charge := units.Watts(0)
	if p.next.Mode == Islanded {
		charge = min(p.pool.pv, p.pool.charge)
		p.pool.pv -= charge
	}
	p.ev.set(p.evPower())
	if p.next.Mode == Connected {
		charge = min(p.pool.pv, p.pool.charge)
		p.pool.pv -= charge
	}
	p.battery.set(charge - p.fromBattery)
	exported := min(p.pool.pv, p.pool.export)
	byFrequency := p.next.Mode == Islanded && p.cfg.IslandCurtailment == CurtailByFrequency
	if curtail := p.pool.pv - exported; curtail > 0 && !byFrequency {
		p.pvLimit.set(p.pvAvail - curtail)
	}
}

// evPower charges the car from surplus PV while there is time, and at full power from the grid once the
// deadline comes close, so it is met whenever that is feasible. Islanded, it gets surplus PV only: the
// battery is kept for the loads that must last the night.
func (p *plan) evPower() units.Watts {
	s := &p.s
	if p.prev.EVMode == EVOff || !s.EVConnected.Good() || !s.EVConnected.Value || !s.EVNeeded.Good() || !s.EVDelivered.Good() || !s.EVMaxPower.Good() {
		return 0
	}
	remaining := s.EVNeeded.Value - s.EVDelivered.Value
	if remaining <= 0 {
		return 0
	}
	maxP := min(p.ev.hi, remaining.Per(p.cfg.Cycle))
	must := p.prev.EVMode == EVNow
	if s.EVDeadline.Good() {
		left := s.EVDeadline.Value.Sub(s.At)
		must = must || remaining >= p.ev.hi.Over(left-p.cfg.EVMargin)
		infeasible := remaining > p.ev.hi.Over(left)
		if infeasible != p.prev.EVInfeasible {
			p.next.EVInfeasible = infeasible
			if infeasible {
				p.event("ev_infeasible", fmt.Sprintf("%.0f Wh still needed, at most %.0f Wh possible before the deadline",
					float64(remaining), float64(p.ev.hi.Over(left))))
			}
		}
	}
	saved, savedFromBattery := p.pool, p.fromBattery
	var got units.Watts
	switch {
	case must && p.next.Mode == Connected:
		got = p.take(maxP, &p.pool.pv, &p.pool.grid) // never the home battery: a round trip for nothing
	default:
		got = p.take(maxP, &p.pool.pv)
	}
	if got < p.cfg.EVMinPower && got < maxP {
		// Below the charger's minimum: do not charge, and leave the power to the others.
		p.pool, p.fromBattery = saved, savedFromBattery
		return 0
	}
	return got
}
