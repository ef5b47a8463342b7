package hil

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fractals-energy/fractals/grid"
	"github.com/fractals-energy/fractals/grid/droop"
	"github.com/fractals-energy/fractals/internal/units"
)

// The community feeder: several units' plants on one radial feeder whose head breaker is the
// community's point of common coupling. Tied to the utility, every unit runs on it as alone, and the
// feeder's AC power flow gives each unit's bus voltage. When the utility is lost at the head, the head
// breaker opens and the community islands together: the units' own PCCs stay closed on the feeder,
// and their grid-forming batteries share the island's imbalance by P–f droop (grid/droop: swing
// equation, first-order unit responses), each in proportion to its rating. When the utility is back
// and has held for the enter-service delay, the head's synchronising control shifts every unit's
// droop curve by the same offset (the shares do not change) until the island is within the
// synchronisation window of the utility, and the head closes.

// CommunityConfig describes a community feeder.
type CommunityConfig struct {
	Units []Config // each unit's plant; their own Grid.Outages must be empty (the head decides)
	// Case is the feeder (a MATPOWER case) and Buses the bus of each unit on it; nil Case: no power
	// flow, every bus at nominal voltage. The case's own loads are left out: the community is the
	// units; the case gives the impedances.
	Case  *grid.Case
	Buses []int
	// Outages are the utility's outages at the feeder head, in elapsed time.
	Outages []Outage
	// FreqDroop is every grid-forming battery's P–f droop (fraction of nominal per rated power).
	FreqDroop float64
	// EnterService is how long the utility must be back before the head synchronises.
	EnterService time.Duration
}

// Community head breaker and synchronisation settings.
const (
	communityInertia      = 2.0 // s, the batteries' emulated inertia on their summed ratings
	communityResponse     = 200 * time.Millisecond
	communitySyncFreq     = 0.3  // Hz, IEEE 1547-2018 Table 5
	communitySyncPhaseDeg = 20.0 // degrees
	communitySyncSlip     = 0.1  // Hz above the utility while synchronising
)

// CommunityState is the feeder at one instant.
type CommunityState struct {
	HeadClosed bool
	Islanded   bool        // the head is open and the droop holds the feeder
	Frequency  units.Hertz // the feeder's
	// Imbalance is what the units would draw from the feeder at their set-points (the droop's load).
	Imbalance units.Watts
	// Share is each unit's droop share of it (positive: discharging more than its set-point).
	Share    []units.Watts
	Voltages []units.PerUnit // each unit's bus
	LossesW  float64
	// PhaseDeg is the utility's phase minus the island's while the head is open and the utility up.
	PhaseDeg float64
}

// Community runs the plants of a community feeder in step.
type Community struct {
	cfg     CommunityConfig
	plants  []*Plant
	elapsed time.Duration
	start   time.Time

	head     bool
	sim      *droop.Sim
	waited   time.Duration // utility back at the head this long
	offset   units.Hertz   // the synchronising shift of every droop curve
	phaseDeg float64
	state    CommunityState
	idx      map[int]int
}

// NewCommunity builds the plants of a community feeder.
func NewCommunity(cfg CommunityConfig) (*Community, error) {
	if len(cfg.Units) == 0 {
		return nil, errors.New("community: no units")
	}
	if cfg.Case != nil && len(cfg.Buses) != len(cfg.Units) {
		return nil, fmt.Errorf("community: %d buses for %d units", len(cfg.Buses), len(cfg.Units))
	}
	if !(cfg.FreqDroop >= 0.001 && cfg.FreqDroop <= 0.2) {
		return nil, fmt.Errorf("community: frequency droop %g outside 0.001..0.2", cfg.FreqDroop)
	}
	c := &Community{cfg: cfg, head: true, start: cfg.Units[0].Start}
	for i, u := range cfg.Units {
		if len(u.Grid.Outages) > 0 || !u.Grid.Available {
			return nil, fmt.Errorf("community: unit %d has outages of its own: the utility is lost at the feeder head", i)
		}
		p, err := New(u)
		if err != nil {
			return nil, fmt.Errorf("community: unit %d: %w", i, err)
		}
		c.plants = append(c.plants, p)
	}
	if cfg.Case != nil {
		cs := cfg.Case.Clone()
		for i := range cs.Buses {
			cs.Buses[i].Pd, cs.Buses[i].Qd = 0, 0
		}
		c.cfg.Case = cs
		c.idx = cs.BusIndex()
		for i, b := range cfg.Buses {
			if _, ok := c.idx[b]; !ok {
				return nil, fmt.Errorf("community: unit %d on bus %d, not in case %s", i, b, cs.Name)
			}
		}
	}
	c.state = CommunityState{HeadClosed: true, Frequency: cfg.Units[0].Grid.NominalFrequency,
		Share: make([]units.Watts, len(c.plants)), Voltages: make([]units.PerUnit, len(c.plants))}
	return c, nil
}

// Plants are the units' plants, in order.
func (c *Community) Plants() []*Plant { return c.plants }

// State is the feeder after the last step.
func (c *Community) State() CommunityState {
	s := c.state
	s.Share = append([]units.Watts(nil), s.Share...)
	s.Voltages = append([]units.PerUnit(nil), s.Voltages...)
	return s
}

func (c *Community) utilityUp(at time.Duration) bool {
	for _, o := range c.cfg.Outages {
		if at >= o.From && at < o.To {
			return false
		}
	}
	return true
}

func (c *Community) nominal() units.Hertz { return c.cfg.Units[0].Grid.NominalFrequency }

// Advance moves the head breaker, the droop and every plant by dt, then solves the feeder.
func (c *Community) Advance(dt time.Duration) error {
	if dt <= 0 {
		return nil
	}
	up := c.utilityUp(c.elapsed)
	if err := c.moveHead(up, dt); err != nil {
		return err
	}
	st := &c.state
	st.Imbalance = 0
	for i, p := range c.plants {
		st.Share[i] = 0
		if c.sim != nil && p.Grid().PCCClosed {
			st.Imbalance += p.Grid().Power + p.tieExtra()
		}
	}
	if c.sim != nil {
		if err := c.stepDroop(dt); err != nil {
			return err
		}
	} else {
		st.Frequency = c.nominal()
	}
	for i, p := range c.plants {
		p.setTie(tie{island: c.sim != nil, extra: st.Share[i], freq: st.Frequency, volt: st.Voltages[i]})
		p.Advance(dt)
	}
	c.elapsed += dt
	return c.solveFeeder()
}

// tieExtra is the droop share the plant was last given.
func (p *Plant) tieExtra() units.Watts { p.mu.Lock(); defer p.mu.Unlock(); return p.tie.extra }

// moveHead opens the head breaker when the utility is lost and closes it once the utility has held
// for the enter-service delay and the island is synchronised to it.
func (c *Community) moveHead(up bool, dt time.Duration) error {
	st := &c.state
	switch {
	case c.head && !up:
		c.head, c.waited, c.offset, c.phaseDeg = false, 0, 0, ReturnPhaseDeg
		sim, err := droop.New(c.island(), c.start.Add(c.elapsed))
		if err != nil {
			return fmt.Errorf("community: %w", err)
		}
		c.sim = sim
	case !c.head && !up:
		c.waited, c.offset = 0, 0
	case !c.head && up:
		c.waited += dt
		fu := c.nominal()
		c.phaseDeg = math.Remainder(c.phaseDeg+360*float64(fu-st.Frequency)*dt.Seconds(), 360)
		if c.waited < c.cfg.EnterService {
			break
		}
		// Synchronise: shift every droop curve so the island runs just above the utility.
		base := st.Frequency - c.offset
		c.offset = fu + communitySyncSlip - base
		if math.Abs(float64(st.Frequency-fu)) <= communitySyncFreq && math.Abs(c.phaseDeg) <= communitySyncPhaseDeg {
			c.head, c.sim, c.offset = true, nil, 0
		}
	}
	st.HeadClosed, st.Islanded = c.head, !c.head
	st.PhaseDeg = 0
	if !c.head && up {
		st.PhaseDeg = c.phaseDeg
	}
	return nil
}

// island is the droop model of the units' batteries, with no load yet: the imbalance arrives as a
// step when the head opens.
func (c *Community) island() droop.Island {
	is := droop.Island{Nominal: c.nominal(), Inertia: communityInertia, VoltageTime: 100 * time.Millisecond}
	for i, u := range c.cfg.Units {
		b := u.Battery
		is.Units = append(is.Units, droop.Unit{Name: fmt.Sprintf("unit%d", i), Rating: b.MaxDischarge,
			FreqDroop: c.cfg.FreqDroop, VoltDroop: 0.05, PMin: -min(b.MaxCharge, b.MaxDischarge), PMax: b.MaxDischarge,
			Response: communityResponse})
	}
	return is
}

// stepDroop integrates the island over dt with the imbalance as its load.
func (c *Community) stepDroop(dt time.Duration) error {
	st := &c.state
	var rating float64
	for _, u := range c.cfg.Units {
		rating += float64(u.Battery.MaxDischarge)
	}
	load := units.Watts(math.Max(-droop.MaxLoadRatio*rating, math.Min(droop.MaxLoadRatio*rating, float64(st.Imbalance))))
	if err := c.sim.SetLoad(load, 0); err != nil {
		return fmt.Errorf("community: %w", err)
	}
	ds, err := c.sim.AdvanceTo(c.sim.Now().Add(dt))
	if err != nil {
		return fmt.Errorf("community: %w", err)
	}
	copy(st.Share, ds.P)
	st.Frequency = ds.F + c.offset
	return nil
}

// solveFeeder runs the feeder's AC power flow with each unit's exchange at its bus.
func (c *Community) solveFeeder() error {
	st := &c.state
	if c.cfg.Case == nil {
		for i := range st.Voltages {
			st.Voltages[i] = 1
		}
		return nil
	}
	cs := c.cfg.Case.Clone()
	for i, p := range c.plants {
		cs.Buses[c.idx[c.cfg.Buses[i]]].Pd += float64(p.Grid().Power) / 1e6
	}
	r, err := grid.Solve(cs, grid.Options{})
	if err != nil {
		return fmt.Errorf("community feeder %s: %w", cs.Name, err)
	}
	for i, b := range c.cfg.Buses {
		if br, ok := r.Bus(b); ok {
			st.Voltages[i] = units.PerUnit(br.Vm)
		}
	}
	st.LossesW = r.LossesMW * 1e6
	return nil
}
