package auction

import (
	"fmt"

	"github.com/fractals-energy/fractals/internal/units"
)

// Community is a bilateral (peer-to-peer) market over a horizon: units, each the aggregate of its own
// agents, trade only with the units they share a link with. Energy may cross a unit (bought from one
// neighbour, sold to another): every unit balances its agents against its trades in every period, so
// relaying is a pair of trades, and each trade pays its link's network charge.
type Community struct {
	Periods     int     `json:"periods"`
	PeriodHours float64 `json:"period_hours"`
	Units       []Unit  `json:"units"`
	Links       []Link  `json:"links"`
}

// Unit is one market participant: a unit's agents (PV, battery, loads, services, EV, grid when present).
type Unit struct {
	ID     string  `json:"id"`
	Agents []Agent `json:"agents"`
}

// Link is a pair of neighbours that may trade. ChargePerKWh is the network charge on every kWh that
// crosses the link in either direction, half paid by each side (the caller derives it from the feeder:
// electrical distance or power-flow sensitivities); MaxW bounds the power over it in each direction.
type Link struct {
	A            string            `json:"a"`
	B            string            `json:"b"`
	ChargePerKWh units.PricePerKWh `json:"charge_per_kwh"`
	MaxW         units.Watts       `json:"max_w"`
}

// Validate says which unit, agent or link is wrong: ids unique (units, and agents within a unit), links
// between two distinct known units, each pair at most once, charges and limits in range.
func (c Community) Validate() error {
	if c.Periods < 1 || c.Periods > MaxPeriods {
		return fmt.Errorf("periods %d, want 1..%d", c.Periods, MaxPeriods)
	}
	if !(c.PeriodHours >= MinPeriodHours) || c.PeriodHours > 24 {
		return fmt.Errorf("period_hours %v, want 1/60 (one minute)..24", c.PeriodHours)
	}
	if len(c.Units) == 0 {
		return fmt.Errorf("units: none, want at least one")
	}
	index := make(map[string]int, len(c.Units))
	for i, u := range c.Units {
		if u.ID == "" {
			return fmt.Errorf("units[%d]: id empty", i)
		}
		if first, ok := index[u.ID]; ok {
			return fmt.Errorf("units[%d] (id %q): id used twice, already by units[%d]", i, u.ID, first)
		}
		index[u.ID] = i
		if err := u.validate(c.Periods); err != nil {
			return fmt.Errorf("units[%d] (id %q): %w", i, u.ID, err)
		}
	}
	pairs := make(map[[2]string]int, len(c.Links))
	for i, l := range c.Links {
		if err := l.validate(index); err != nil {
			return fmt.Errorf("links[%d] (%s–%s): %w", i, l.A, l.B, err)
		}
		key := [2]string{min(l.A, l.B), max(l.A, l.B)}
		if first, ok := pairs[key]; ok {
			return fmt.Errorf("links[%d] (%s–%s): pair already linked by links[%d]", i, l.A, l.B, first)
		}
		pairs[key] = i
	}
	return nil
}

func (u Unit) validate(periods int) error {
	firstUse := make(map[string]int, len(u.Agents))
	for i, a := range u.Agents {
		if a.ID == "" {
			return fmt.Errorf("agents[%d]: id empty", i)
		}
		if first, ok := firstUse[a.ID]; ok {
			return fmt.Errorf("agents[%d] (id %q): id used twice, already by agents[%d]", i, a.ID, first)
		}
		firstUse[a.ID] = i
		if err := a.validate(periods); err != nil {
			return fmt.Errorf("agents[%d] (id %q): %w", i, a.ID, err)
		}
	}
	return nil
}

func (l Link) validate(index map[string]int) error {
	for _, end := range []string{l.A, l.B} {
		if _, ok := index[end]; !ok {
			return fmt.Errorf("unit %q unknown", end)
		}
	}
	if l.A == l.B {
		return fmt.Errorf("a unit linked to itself")
	}
	if err := inRange("charge_per_kwh", float64(l.ChargePerKWh), 0, maxPrice); err != nil {
		return err
	}
	return inRange("max_w", float64(l.MaxW), 0, maxPower)
}

// Neighbours lists the links of unit id as seen from it, in the order of c.Links.
func (c Community) Neighbours(id string) []Neighbour {
	var out []Neighbour
	for _, l := range c.Links {
		switch id {
		case l.A:
			out = append(out, Neighbour{ID: l.B, ChargePerKWh: l.ChargePerKWh, MaxW: l.MaxW})
		case l.B:
			out = append(out, Neighbour{ID: l.A, ChargePerKWh: l.ChargePerKWh, MaxW: l.MaxW})
		}
	}
	return out
}

// Neighbour is one trading partner as a unit's market peer sees it.
type Neighbour struct {
	ID           string            `json:"id"`
	ChargePerKWh units.PricePerKWh `json:"charge_per_kwh"`
	MaxW         units.Watts       `json:"max_w"`
}

// CommunitySolution is the central optimum of a bilateral market.
type CommunitySolution struct {
	// Welfare is the agents' benefit minus their costs minus the network charges paid.
	Welfare float64 `json:"welfare"`
	// Iterations is the interior-point iteration count.
	Iterations int `json:"iterations"`
	// Prices is each unit's balance price per period (per kWh): what one more kWh is worth there.
	Prices map[string][]float64 `json:"prices"`
	// Schedules is each agent's net power per period in W, by unit then agent id.
	Schedules map[string]map[string][]float64 `json:"schedules"`
	// Flows is the power over each link per period in W, positive from a to b, in the order of Links.
	Flows [][]float64 `json:"flows"`
	// MaxImbalanceW is the largest |agents − trades| of any unit in any period, in W.
	MaxImbalanceW float64 `json:"max_imbalance_w"`
}

// SolveCommunity computes the central optimum of the bilateral market: the welfare program with one
// balance row per unit and period, each link a pair of directed flows that leave one unit's balance and
// enter the other's, each paying the link's charge. It is the reference the consensus peers are held to.
func SolveCommunity(c Community) (CommunitySolution, error) {
	if err := c.Validate(); err != nil {
		return CommunitySolution{}, err
	}
	T, h := c.Periods, c.PeriodHours
	blocks, owner, rows := c.blocks()
	agentBlocks := len(owner)
	r, err := solveBlockLP(blocks, rows)
	if err != nil {
		return CommunitySolution{}, err
	}
	sol := CommunitySolution{Welfare: positiveZero(-r.objective), Iterations: r.iterations,
		Prices: make(map[string][]float64, len(c.Units)), Schedules: make(map[string]map[string][]float64, len(c.Units))}
	net := make([]float64, rows)
	for u, unit := range c.Units {
		prices := make([]float64, T)
		for t := range T {
			prices[t] = positiveZero(-r.balanceDual[u*T+t] / h)
		}
		sol.Prices[unit.ID] = prices
		sol.Schedules[unit.ID] = make(map[string][]float64, len(unit.Agents))
	}
	for i := range agentBlocks {
		u, a := owner[i][0], owner[i][1]
		s := make([]float64, T)
		for j, row := range blocks[i].period {
			if row >= 0 {
				s[row-u*T] += blocks[i].sign[j] * r.x[i][j]
			}
		}
		for t := range s {
			net[u*T+t] += s[t]
			s[t] = positiveZero(s[t] * 1000)
		}
		sol.Schedules[c.Units[u].ID][c.Units[u].Agents[a].ID] = s
	}
	for k := range c.Links {
		b := &blocks[agentBlocks+k]
		x := r.x[agentBlocks+k]
		flow := make([]float64, T)
		for j := range x {
			if b.period[j] >= 0 {
				net[b.period[j]] += b.sign[j] * x[j]
			}
			if t2, s2 := b.second(j); t2 >= 0 {
				net[t2] += s2 * x[j]
			}
			flow[j/2] += float64(1-2*(j%2)) * x[j] * 1000 // even variables run a→b
		}
		for t := range flow {
			flow[t] = positiveZero(flow[t])
		}
		sol.Flows = append(sol.Flows, flow)
	}
	sol.MaxImbalanceW = positiveZero(maxAbs(net) * 1000)
	return sol, nil
}

// blocks is the bilateral program: every agent's block with its balance rows moved to its unit's
// (row u·T+t), then one block per link; owner is the unit and agent of each agent block.
func (c Community) blocks() (blocks []block, owner [][2]int, rows int) {
	T, h := c.Periods, c.PeriodHours
	index := make(map[string]int, len(c.Units))
	for u, unit := range c.Units {
		index[unit.ID] = u
		for a, agent := range unit.Agents {
			b := compile(agent, T, h)
			for j, t := range b.period {
				if t >= 0 {
					b.period[j] = u*T + t
				}
			}
			blocks = append(blocks, b)
			owner = append(owner, [2]int{u, a})
		}
	}
	for _, l := range c.Links {
		blocks = append(blocks, linkBlock(index[l.A], index[l.B], l, T, h))
	}
	return blocks, owner, len(c.Units) * T
}

// linkBlock is a link's flows: for every period one variable a→b and one b→a, each leaving the sender's
// balance (as consumption) and entering the receiver's (as production), each paying the charge.
func linkBlock(a, b int, l Link, periods int, h float64) block {
	var blk block
	blk.period2, blk.sign2 = []int{}, []float64{}
	upper := float64(l.MaxW) / 1000
	if upper <= 0 {
		return blk
	}
	for t := range periods {
		for _, dir := range [2][2]int{{a, b}, {b, a}} {
			blk.add(float64(l.ChargePerKWh)*h, upper, dir[0]*periods+t, 1)
			blk.period2 = append(blk.period2, dir[1]*periods+t)
			blk.sign2 = append(blk.sign2, -1)
		}
	}
	return blk
}

// Pooled is the same market with every unit's agents in one pool (ids prefixed by the unit's): the
// optimum of a community with free links of unlimited capacity, an upper bound on the bilateral welfare.
func (c Community) Pooled() Problem {
	p := Problem{Periods: c.Periods, PeriodHours: c.PeriodHours}
	for _, u := range c.Units {
		for _, a := range u.Agents {
			a.ID = u.ID + "/" + a.ID
			p.Agents = append(p.Agents, a)
		}
	}
	return p
}
