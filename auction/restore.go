package auction

import (
	"math"
	"slices"
)

// Stopping the distributed method with a certificate instead of a guess. ADMM on a market of linear
// costs gets the prices right long before the last fraction of a percent of imbalance dies out: agents
// sitting on a limit flip back and forth and the imbalance rings around zero. So every iteration each
// agent also reports, from the same broadcast,
//
//   - its dual value at the broadcast prices, min over its own constraints of f(x) + y·x: by weak
//     duality the sum over the agents bounds the best welfare from above;
//   - its Offers to move alone in one period: how far its power can go down or up in period t without
//     touching any other period or leaving its limits, and what each kW costs it (a battery, whose
//     periods are tied together by its energy, Offers nothing; a flexible load Offers only to consume
//     less, so the Offers of one agent can all be taken together).
//
// The coordinator closes each period's imbalance with the cheapest Offers (a clearing of the residual,
// marginal Offers shared pro rata), which gives an exactly balanced schedule whose welfare it knows. When
// that welfare is within the tolerance of the dual bound, the schedule is certified within the
// tolerance of the optimum and the method stops; the coordinator's last broadcast tells every agent
// which of its Offers were taken (a cost threshold and a share per period).

// Offer is a move an agent can make in one period alone: Room kW down (Down) or up, at Cost money per kW.
type Offer struct {
	Period int
	Down   bool
	Room   float64
	Cost   float64
	Fixed  bool // a move of unresponsive demand: its cost changes the fixed value the gap leaves out
}

// offerSink collects offers; an agent appends to it, so the offers of all agents can share one slice.
type offerSink = []Offer

// dualEpsilon is the penalty (money per kW² per period, relative to the agent's own prices) of the
// proximal step used to evaluate a dual value where no closed form is at hand; the bound subtracts what
// it can cost.
const dualEpsilon = 1e-9

// linearOffers Offers the room between x and the bounds at the slope of a linear cost.
func linearOffers(sink offerSink, t int, x, lo, hi, slope float64) offerSink {
	if r := x - lo; r > 0 {
		sink = append(sink, Offer{Period: t, Down: true, Room: r, Cost: -slope})
	}
	if r := hi - x; r > 0 {
		sink = append(sink, Offer{Period: t, Room: r, Cost: slope})
	}
	return sink
}

func (a *linearProx) offers(sink offerSink, x []float64) offerSink {
	for t := range x {
		sink = linearOffers(sink, t, x[t], a.lo[t], a.hi[t], a.slope[t])
	}
	return sink
}

// dual of a linear cost: every period at the bound its net slope favours.
func (a *linearProx) dual(y []float64) float64 {
	var d float64
	for t := range y {
		s := a.slope[t] + y[t]
		d += min(s*a.lo[t], s*a.hi[t])
	}
	return d
}

func (g *gridProx) offers(sink offerSink, x []float64) offerSink {
	for t := range x {
		if x[t] > 0 {
			sink = linearOffers(sink, t, x[t], 0, g.maxExport, g.exportSlope[t])
			sink = linearOffers(sink, t, 0, -g.maxImport, 0, g.importSlope[t])
		} else {
			sink = linearOffers(sink, t, x[t], -g.maxImport, 0, g.importSlope[t])
			sink = linearOffers(sink, t, 0, 0, g.maxExport, g.exportSlope[t])
		}
	}
	return sink
}

func (g *gridProx) dual(y []float64) float64 {
	var d float64
	for t := range y {
		d += min(0, (g.importSlope[t]+y[t])*-g.maxImport, (g.exportSlope[t]+y[t])*g.maxExport)
	}
	return d
}

// Offers of a flexible load: it can always consume less; consuming more would draw on a budget that all
// its periods share, so it Offers none of that.
func (a *flexProx) offers(sink offerSink, x []float64) offerSink {
	for t := range x {
		if x[t] > 0 {
			sink = append(sink, Offer{Period: t, Down: true, Room: x[t], Cost: a.value})
		}
	}
	return sink
}

// dual of a flexible load: a fractional knapsack, the periods where energy is cheapest first.
func (a *flexProx) dual(y []float64) float64 {
	order := make([]int, 0, a.deadline)
	for t := 0; t < a.deadline && t < len(y); t++ {
		if y[t]-a.value < 0 {
			order = append(order, t)
		}
	}
	slices.SortFunc(order, func(i, j int) int { return cmpFloat(y[i], y[j]) })
	var d float64
	budget := a.energy
	for _, t := range order {
		if a.h <= 0 || budget <= 0 {
			break
		}
		kw := min(a.maxKW, budget/a.h)
		d += (y[t] - a.value) * kw
		budget -= kw * a.h
	}
	return d
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (b *batteryProx) offers(sink offerSink, _ []float64) offerSink { return sink }

// dual of a battery: its proximal step with a vanishing penalty around −y/ε is the linear program at
// prices y up to ε/2 ‖x‖², which the bound gives away.
func (b *batteryProx) dual(y []float64) float64 {
	if b.inert {
		return 0
	}
	T := len(y)
	scale := 1.0
	for _, v := range y {
		scale = max(scale, math.Abs(v))
	}
	eps := dualEpsilon * scale
	rho, v, x := make([]float64, T), make([]float64, T), make([]float64, T)
	for t := range T {
		rho[t] = eps
		v[t] = -y[t] / eps
	}
	// Evaluate on a copy: the dual must not disturb what the step keeps between iterations.
	c := *b
	c.x, c.dLow, c.dHigh, c.sens = nil, nil, nil, nil
	f := c.prox(v, rho, x)
	var lagr float64
	for t := range T {
		lagr += y[t] * x[t]
	}
	reach := max(b.charge, b.discharge)
	return f + lagr - eps/2*float64(T)*reach*reach
}

// Restoration is how the coordinator closes each period's imbalance with the agents' Offers: the moves
// in direction Down[t] cheaper than Threshold[t] are taken whole, those at it by Share[t].
type Restoration struct {
	Active    []bool
	Down      []bool
	Threshold []float64
	Share     []float64
}

// restore chooses, per period, the cheapest Offers that close the imbalance and returns what they cost
// in all; ok is false when some period lacks the room.
func restore(imbalance []float64, offers []Offer) (Restoration, float64, bool) {
	T := len(imbalance)
	r := Restoration{Active: make([]bool, T), Down: make([]bool, T), Threshold: make([]float64, T), Share: make([]float64, T)}
	byPeriod := make([][]Offer, T)
	for _, o := range offers {
		if o.Period >= 0 && o.Period < T && (o.Down == (imbalance[o.Period] > 0)) {
			byPeriod[o.Period] = append(byPeriod[o.Period], o)
		}
	}
	var cost float64
	for t, need := range imbalance {
		need = math.Abs(need)
		if need == 0 {
			continue
		}
		r.Active[t], r.Down[t] = true, imbalance[t] > 0
		os := byPeriod[t]
		slices.SortFunc(os, func(a, b Offer) int { return cmpFloat(a.Cost, b.Cost) })
		for i := 0; i < len(os) && need > 0; {
			j, room := i, 0.0
			for ; j < len(os) && os[j].Cost == os[i].Cost; j++ {
				room += os[j].Room
			}
			take := min(room, need)
			r.Threshold[t], r.Share[t] = os[i].Cost, take/room
			cost += take * os[i].Cost
			need -= take
			i = j
		}
		if need > 1e-12*math.Abs(imbalance[t]) {
			return r, 0, false
		}
	}
	return r, cost, true
}

// apply moves an agent's schedule by the Offers the Restoration took; Offers were made at x.
func (r Restoration) apply(x []float64, offers []Offer) {
	for _, o := range offers {
		move := r.taken(o)
		if o.Down {
			move = -move
		}
		x[o.Period] += move
	}
}

// taken is how much of an Offer's room (kW) the Restoration took.
func (r Restoration) taken(o Offer) float64 {
	t := o.Period
	if t < 0 || t >= len(r.Active) || !r.Active[t] || o.Down != r.Down[t] || o.Cost > r.Threshold[t] {
		return 0
	}
	if o.Cost == r.Threshold[t] {
		return o.Room * r.Share[t]
	}
	return o.Room
}
