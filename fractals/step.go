package fractals

import (
	"math"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// Mode is the unit's relation to the utility grid.
type Mode uint8

const (
	// Connected: the PCC breaker is closed and the utility holds voltage and frequency.
	Connected Mode = iota
	// Islanded: the PCC is open and the battery inverter forms the grid.
	Islanded
)

// String names the mode.
func (m Mode) String() string {
	if m == Islanded {
		return "islanded"
	}
	return "connected"
}

// MarshalText makes modes readable in JSON.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// State is what the controller remembers between cycles. It is a value: Step returns the next one.
type State struct {
	Mode         Mode           `json:"mode"`
	Island       Island         `json:"island"`     // the island state machine (Mode follows its phase)
	Protection   Protection     `json:"protection"` // the IEEE 1547 relay, island detector, enter service
	Relays       Supervision    `json:"relays"`     // feedback supervision of the PCC and load relays
	Services     ServiceStep    `json:"service_step"`
	Safe         bool           `json:"safe"`          // essential readings missing: safe set-points
	Shed         [NumLoads]bool `json:"shed"`          // loads the controller switched off for lack of supply
	EVInfeasible bool           `json:"ev_infeasible"` // the EV's request cannot be met by its deadline
	EVMode       EVMode         `json:"ev_mode"`       // the operator's EV choice (RequestEVMode)
	Schedule     Schedule       `json:"schedule"`      // the market's commitment for the current period, set by the shell
	// NightReserve is the state of charge the critical load needs through the coming night, from the
	// forecasts (NightReserve), set by the shell; 0: none computed.
	NightReserve units.Fraction `json:"night_reserve"`
}

// Commands are the set-points and relay states of one cycle.
type Commands struct {
	PVLimit      units.Watts    `json:"pv_limit"`
	BatteryPower units.Watts    `json:"battery_power"` // positive charging
	EVPower      units.Watts    `json:"ev_power"`
	LoadOn       [NumLoads]bool `json:"load_on"`
	PCCClosed    bool           `json:"pcc_closed"`
	// GridForming asks the battery inverter to form the grid (islanded) or follow it (connected).
	GridForming bool `json:"grid_forming"`
	// ReactivePower is the PV inverter's reactive power set-point from the IEEE 1547 volt-var
	// response (gridsupport.go), positive injecting; zero while islanded or ceased.
	ReactivePower units.VoltAmperesReactive `json:"reactive_power"`
	// FrequencyShift turns the PV inverter's active anti-islanding (Sandia frequency shift) on: while
	// connected, so a balanced unintentional island walks out of the detector's frequency window;
	// off in an island, where it would fight the grid-forming inverter's droop.
	FrequencyShift bool `json:"frequency_shift"`
	// CeaseToEnergize tells the inverters to stop exchanging current (their connect/disconnect
	// control) in the phases where the grid-forming inverter must stop too: a stuck PCC, a
	// blackout, an open transition's dark second. The energize after a blackout is the grid-forming
	// inverter's black start.
	CeaseToEnergize bool `json:"cease_to_energize"`
	// FrequencySet and VoltageSet are the grid-forming inverter's set-points while synchronising to
	// the utility; zero leaves it on its own droop.
	FrequencySet units.Hertz `json:"frequency_set,omitempty"`
	VoltageSet   units.Volts `json:"voltage_set,omitempty"`
	// ServiceStep is how far the unit's own services are degraded (0: full service).
	ServiceStep ServiceStep `json:"service_step"`
	// Redrive asks the writer to send these relay commands again now: their feedback disagrees.
	Redrive Redrive `json:"-"`
}

// Event is something worth a log line: a mode change, a shed load, safe mode.
type Event struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Detail string    `json:"detail,omitempty"`
}

// Step is the controller: a pure function of the configuration, the previous state and this cycle's
// snapshot. The controllers run in priority order on one plan; each may only narrow what the ones
// before it allowed, so a lower controller can never override a higher one.
func Step(cfg *Config, st State, s *Snapshot) (State, Commands, []Event) {
	// Built here, not in a constructor taking pointers, so escape analysis keeps it on the stack.
	p := plan{cfg: cfg, s: s.sanitized()}
	p.events = protectTick(cfg, &st, SampleOf(&p.s))
	p.prev, p.next = st, st
	p.derive()
	// The controllers in priority order, highest first; the market schedule sits between services and
	// optimisation. Called directly (not through a table) so the plan stays on the stack.
	protect(&p)
	island(&p)
	reserve(&p)
	serveCritical(&p)
	serveServices(&p)
	degradeServices(&p)
	followMarket(&p)
	optimise(&p)
	c := p.commands() // before reading p.next: supervision records into it
	return p.next, c, p.events
}

// noLimit is the PV limit sent when the inverter's rating is unknown: far above any unit, yet finite so
// that it survives JSON and register encodings.
const noLimit units.Watts = 1e9

// setpoint is a power actuator: higher controllers narrow its range, lower ones choose inside it.
type setpoint struct{ lo, hi, value units.Watts }

// narrow intersects the range with [lo, hi]. A request disjoint from what higher controllers allowed
// is ignored: they win.
func (a *setpoint) narrow(lo, hi units.Watts) {
	nlo, nhi := max(a.lo, lo), min(a.hi, hi)
	if nlo > nhi {
		return
	}
	a.lo, a.hi = nlo, nhi
	a.value = a.value.Clamp(a.lo, a.hi)
}

// pin narrows the range to one value.
func (a *setpoint) pin(v units.Watts) { a.narrow(v, v) }

// set chooses a value inside the allowed range.
func (a *setpoint) set(v units.Watts) { a.value = v.Clamp(a.lo, a.hi) }

// relay is a switch actuator: the first controller to lock it decides.
type relay struct{ on, locked bool }

func (r *relay) lock(on bool) {
	if !r.locked {
		r.on, r.locked = on, true
	}
}

// pools are the power sources left for the loads still to be served in this cycle, in W.
type pools struct {
	pv      units.Watts // available PV not yet used
	battery units.Watts // discharge above the reserve
	reserve units.Watts // islanded only: from the reserve down to the services floor, for critical loads and services
	last    units.Watts // islanded only: from the services floor down to SoCMin, for critical loads alone
	grid    units.Watts // import headroom
	charge  units.Watts // charge headroom
	export  units.Watts // export headroom
}

// plan is the working area of one Step.
type plan struct {
	cfg    *Config
	s      Snapshot // sanitized copy, held by value so the plan stays on the stack
	prev   State    // the state after this cycle's protection tick, before the controllers
	next   State
	events []Event

	pvAvail units.Watts
	stored  units.WattHours
	demand  [NumLoads]units.Watts

	pool        pools
	fromBattery units.Watts // what loads took from the battery and reserve pools

	battery, pvLimit, ev setpoint
	loads                [NumLoads]relay
	pcc                  relay
	reactive             units.VoltAmperesReactive
	frequencyShift       bool
	cease                bool
}

// derive sets the plan's actuators and inputs from its snapshot and configuration.
func (p *plan) derive() {
	cfg, s := p.cfg, &p.s
	rated := noLimit
	if s.PVRated.Quality != Missing {
		rated = s.PVRated.Value
	}
	p.pvLimit = setpoint{lo: 0, hi: rated, value: rated}
	p.battery = setpoint{lo: -cfg.BatteryMaxDischarge, hi: cfg.BatteryMaxCharge}
	p.ev = setpoint{lo: 0, hi: units.Watts(math.Inf(1))}
	if s.EVMaxPower.Good() {
		p.ev.hi = s.EVMaxPower.Value
	}
	switch {
	case s.PVAvailable.Good():
		p.pvAvail = s.PVAvailable.Value
	case s.PVPower.Good():
		p.pvAvail = s.PVPower.Value
	}
	p.stored = s.SoC.Value.Of(cfg.BatteryCapacity)
	for k := range p.demand {
		if s.Loads[k].Demand.Quality != Missing {
			p.demand[k] = s.Loads[k].Demand.Value
		}
	}
}

func (p *plan) event(kind, detail string) {
	p.events = append(p.events, Event{At: p.s.At, Kind: kind, Detail: detail})
}

func (p *plan) commands() Commands {
	c := Commands{PVLimit: p.pvLimit.value, BatteryPower: p.battery.value, EVPower: p.ev.value, PCCClosed: p.pcc.on,
		GridForming:  p.next.Island.Phase.forming(),
		FrequencySet: p.next.Island.FrequencySet, VoltageSet: p.next.Island.VoltageSet, ServiceStep: p.next.Services}
	c.ReactivePower, c.FrequencyShift, c.CeaseToEnergize = p.reactive, p.frequencyShift, p.cease
	for k := range p.loads {
		c.LoadOn[k] = p.loads[k].on
	}
	p.supervise(&c)
	return c
}

// dischargeTo is the AC power the battery can give for one cycle without its state of charge falling
// below floor, within its power limit.
func (p *plan) dischargeTo(floor units.Fraction) units.Watts {
	avail := float64(p.stored-floor.Of(p.cfg.BatteryCapacity)) * float64(p.cfg.DischargeEff)
	return units.Watts(math.Min(float64(p.cfg.BatteryMaxDischarge), math.Max(0, avail/p.cfg.Cycle.Hours())))
}

// chargeTo is the AC power the battery can take for one cycle without passing ceiling.
func (p *plan) chargeTo(ceiling units.Fraction) units.Watts {
	room := float64(ceiling.Of(p.cfg.BatteryCapacity)-p.stored) / float64(p.cfg.ChargeEff)
	return units.Watts(math.Min(float64(p.cfg.BatteryMaxCharge), math.Max(0, room/p.cfg.Cycle.Hours())))
}

// take draws up to want from the pools in the order given and returns what it got.
func (p *plan) take(want units.Watts, sources ...*units.Watts) units.Watts {
	got := units.Watts(0)
	for _, src := range sources {
		if want <= got {
			break
		}
		d := min(want-got, *src)
		if d <= 0 {
			continue
		}
		*src -= d
		got += d
		if src == &p.pool.battery || src == &p.pool.reserve || src == &p.pool.last {
			p.fromBattery += d
		}
	}
	return got
}

// available sums the pools a load may draw from.
func available(sources ...*units.Watts) units.Watts {
	var t units.Watts
	for _, s := range sources {
		t += max(0, *s)
	}
	return t
}
