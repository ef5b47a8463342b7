package fractals

import (
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// Schedule is what the market committed the unit to for one period: its net exchange at the point of
// common coupling (the sum of its trades, with the community and the grid agent) and the plan of its
// flexible devices that produced it. The shell puts the current period's schedule in State before Step.
type Schedule struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// NetExchange is the committed net power at the PCC, positive importing.
	NetExchange units.Watts `json:"net_exchange_w"`
	// EV is the committed EV charging power; the battery and PV then close the gap to NetExchange.
	EV units.Watts `json:"ev_w"`
}

// ActiveAt reports whether the schedule covers t.
func (s Schedule) ActiveAt(t time.Time) bool {
	return !s.Start.IsZero() && !t.Before(s.Start) && t.Before(s.End)
}

// followMarket steers the EV, the battery and PV toward the committed net exchange of the current
// period. It runs after protection, islanding, the reserve, critical loads and services have narrowed
// the actuators and switched the loads, so it can only choose inside what they allowed: an island
// exchanges nothing, a battery at its reserve gives no more, a shed load stays shed, and an EV whose
// deadline has come charges at full power whatever the market said. What it cannot follow shows up at
// the meter as the period's imbalance.
func followMarket(p *plan) {
	sch := p.next.Schedule
	if !sch.ActiveAt(p.s.At) || p.next.Mode != Connected || p.next.Safe {
		return
	}
	target := sch.NetExchange.Clamp(-p.cfg.MaxExport, p.cfg.MaxImport)
	var loads units.Watts
	for k := range p.loads {
		if p.loads[k].on {
			loads += p.demand[k]
		}
	}
	ev, must := p.marketEV(sch.EV)
	// The battery closes the gap: net = loads + ev + battery − pv.
	battery := (target - loads - ev + p.pvAvail).Clamp(p.battery.lo, p.battery.hi)
	pvOut := p.pvAvail
	if net := loads + ev + battery - pvOut; net < target {
		// More surplus than committed and the battery is full or at its limit: curtail PV.
		pvOut = max(0, pvOut-(target-net))
	} else if net > target && ev > p.ev.lo && !must {
		// A shortfall the battery cannot cover: the EV gives back what it may (not below its floor).
		ev = max(p.ev.lo, ev-(net-target))
		if ev < p.cfg.EVMinPower {
			ev = max(p.ev.lo, 0)
		}
	}
	p.battery.pin(battery)
	p.ev.pin(ev)
	// Pinned, so that optimisation, whose pools do not know the commitment, cannot curtail more.
	if pvOut < p.pvAvail {
		p.pvLimit.pin(pvOut)
	} else {
		p.pvLimit.narrow(min(p.pvAvail, p.pvLimit.hi), p.pvLimit.hi)
	}
}

// marketEV is the EV power the market controller may choose: the committed power inside the EV's
// range, zero when no car waits, full power once the deadline leaves no slack (the rule optimisation
// follows too), and never below the charger's minimum.
func (p *plan) marketEV(committed units.Watts) (ev units.Watts, must bool) {
	s := &p.s
	if !s.EVConnected.Good() || !s.EVConnected.Value || !s.EVNeeded.Good() || !s.EVDelivered.Good() || !s.EVMaxPower.Good() {
		return max(0, p.ev.lo), false
	}
	remaining := s.EVNeeded.Value - s.EVDelivered.Value
	if remaining <= 0 {
		return max(0, p.ev.lo), false
	}
	hi := min(p.ev.hi, remaining.Per(p.cfg.Cycle))
	if s.EVDeadline.Good() && remaining >= p.ev.hi.Over(s.EVDeadline.Value.Sub(s.At)-p.cfg.EVMargin) {
		return hi, true
	}
	ev = committed.Clamp(max(0, p.ev.lo), hi)
	if ev < p.cfg.EVMinPower && ev < hi {
		return max(0, p.ev.lo), false
	}
	return ev, false
}
