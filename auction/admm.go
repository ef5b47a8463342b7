package auction

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
)

// The distributed method: ADMM in its exchange form (Boyd et al., "Distributed Optimization and
// Statistical Learning via ADMM", §7.3.2), with a penalty ρ_it per agent and period (ADMM in a weighted
// norm). Every iteration,
//
//	coordinator:  c_t = α Σ_i x_it / Σ_i (1/ρ_it);  y_t ← y_t + c_t          (prices move with the imbalance)
//	agent i:      z_it = α x_it + (1−α) z_it − c_t/ρ_it                        (its share of a balanced exchange)
//	              x_i ← argmin f_i(x) + Σ_t y_t x_t + ρ_it/2 (x_t − z_it)²     (its own problem only)
//
// y_t is the price of period t per kW and period (y_t/h per kWh), α the over-relaxation. With one ρ for
// everyone this is the textbook exchange: each agent takes 1/N of the imbalance and the price moves by
// ρ/N of it, so when only a few agents are marginal (linear costs: most sit at a limit) both the balance
// and the price crawl. Instead each agent picks its own ρ_it after every step: the base ρ while it is
// between its limits (it can absorb imbalance), stiffness × ρ while a limit holds it. The imbalance then
// goes to the agents that can take it and the price moves by about what makes them take it, a Newton
// step on the market's supply and demand. "Held" is measured exactly: each agent reports ∂x_t/∂v_t of its
// own proximal step (1 free, 0 at a limit, in between when its energy limits make periods trade off)
// and takes ρ_it = ρ / max(sensitivity, 1/stiffness). The base ρ follows residual balancing on the
// relative residuals (imbalance over traded energy, share movement over price), and the agents start
// from the prices of a one-shot auction of their myopic bids (warmstart.go). Once the penalties stop
// changing the method is ADMM in a fixed weighted norm, with its convergence guarantee; they are frozen
// after adaptIterations so that guarantee always applies.
//
// The method stops on a certificate rather than on residuals alone (restore.go): every iteration the
// coordinator closes each period's imbalance with the agents' cheapest single-period offers, which gives
// a balanced schedule of known welfare, and the agents' dual values bound the optimum from above; it
// stops when the best balanced schedule is within GapTolerance of the best bound. Residuals still steer
// the penalty.
//
// An agent's step is a pure function of its own state and the broadcast Signal, and the coordinator's a
// pure function of the responses, so each can run on its own unit once the mesh carries them.

// ADMMOptions tunes the distributed method; the zero value picks the defaults.
type ADMMOptions struct {
	// MaxIterations stops a run that has not converged (default 1000; random markets of 1,000 agents
	// take 110–225); it is reported as an error.
	MaxIterations int
	// GapTolerance is the certified distance from the optimum at which the method stops: the agents'
	// upper bound minus the welfare of the balanced schedule, relative to that welfare without the value
	// of unresponsive demand served (see certificate.gap; default 9e-4, inside the market's 0.1 % rule).
	GapTolerance float64
}

func (o ADMMOptions) withDefaults() ADMMOptions {
	if o.MaxIterations <= 0 {
		o.MaxIterations = 1000
	}
	if o.GapTolerance <= 0 {
		o.GapTolerance = 9e-4
	}
	return o
}

// Signal is what the coordinator broadcasts each iteration.
type Signal struct {
	Iteration int
	Rho       float64   // base penalty, money per kW² per period
	Alpha     float64   // over-relaxation
	Price     []float64 // y: price per kW and period
	Shift     []float64 // c: imbalance per unit of compliance, kW·(money per kW²)
	Freeze    bool      // keep the penalties as they are
}

// AgentState is what an agent keeps between iterations.
type AgentState struct {
	Schedule []float64 // x: kW per period
	Share    []float64 // z
	Penalty  []float64 // ρ_it for the next projection and step
	Cost     float64   // money, at Schedule
	Dual     float64   // min over its constraints of cost + Price·x, money: its share of the bound
	Offers   []Offer   // its single-period moves from Schedule, for the restoration of balance
	// Fixed is the value (money) of the unresponsive demand it serves at Schedule, which is part of
	// −Cost: demand valued at the price cap is served whatever the price, so the certificate measures
	// the gap against the welfare without it (see certificate.gap).
	Fixed float64
}

// compliance is 1/ρ_it: how much of the imbalance the agent offers to take in period t.
func (st AgentState) compliance(t int) float64 { return 1 / st.Penalty[t] }

// Participant is one agent of the distributed market.
type Participant struct {
	solver proxer
	// fixedValue is what a kW served for a period is worth to an unresponsive load (valued at the
	// price cap), money; 0 for every other agent.
	fixedValue float64
}

// NewParticipant builds the local solver of a validated agent.
func NewParticipant(a Agent, periods int, periodHours float64) Participant {
	part := Participant{solver: newProxer(a, periods, periodHours)}
	if a.Kind == KindLoad && float64(a.ValuePerKWh) >= DefaultPriceCap {
		part.fixedValue = float64(a.ValuePerKWh) * periodHours
	}
	return part
}

// NewAgentState is an idle agent at the base penalty.
func NewAgentState(periods int, rho float64) AgentState {
	st := AgentState{Schedule: make([]float64, periods), Share: make([]float64, periods), Penalty: make([]float64, periods)}
	for t := range st.Penalty {
		st.Penalty[t] = rho
	}
	return st
}

// Step is the agent's iteration, a function of its own state and the signal only.
func (p Participant) Step(st AgentState, s Signal) AgentState {
	T := len(st.Schedule)
	next := AgentState{Schedule: make([]float64, T), Share: make([]float64, T), Penalty: make([]float64, T)}
	v := make([]float64, T)
	for t := range T {
		next.Share[t] = s.Alpha*st.Schedule[t] + (1-s.Alpha)*st.Share[t] - s.Shift[t]/st.Penalty[t]
		v[t] = next.Share[t] - s.Price[t]/st.Penalty[t]
	}
	next.Cost = p.solver.prox(v, st.Penalty, next.Schedule)
	next.Dual = p.solver.dual(s.Price)
	next.Offers = p.solver.offers(nil, next.Schedule)
	if p.fixedValue > 0 {
		for _, x := range next.Schedule {
			next.Fixed += p.fixedValue * x
		}
		for k := range next.Offers {
			next.Offers[k].Fixed = true
		}
	}
	sens := p.solver.sensitivity(next.Schedule)
	for t := range T {
		if s.Freeze {
			next.Penalty[t] = st.Penalty[t]
		} else {
			next.Penalty[t] = s.Rho / math.Max(sens[t], 1/stiffness)
		}
	}
	return next
}

// Settle is the agent's final schedule in kW: its last one, moved by the offers the coordinator's
// restoration took.
func (p Participant) Settle(st AgentState, r Restoration) []float64 {
	x := append([]float64(nil), st.Schedule...)
	r.apply(x, st.Offers)
	return x
}

// stiffness bounds the penalty of an agent held by its limits at this multiple of the base ρ.
const stiffness = 30.0

// Coordinator holds the price state of the distributed market.
type Coordinator struct {
	n, periods int
	signal     Signal
	opt        ADMMOptions
	rho0       float64
	rhoHigh    float64 // residual balancing raises ρ no further
	// typicalPrice (per kW and period) scales the dual residual when some period clears at cap level
	// (over outlierPrices times it): the price errors that matter are those against the agents' own
	// prices, not against the cap. Scaled by the cap, the dual residual looks tiny, residual balancing
	// raises ρ to its ceiling and the prices swing by thousands (an island with a battery partly
	// covering a shortage did not settle in 1,000 iterations).
	typicalPrice float64
	best         certificate
}

// certificate is the best balanced schedule met so far and the lowest upper bound on the welfare.
type certificate struct {
	iteration   int
	states      []AgentState // the agents' states the balanced schedule was restored from
	restoration Restoration
	welfare     float64 // of the balanced schedule
	fixed       float64 // the part of welfare that is the value of unresponsive demand served
	bound       float64 // no schedule does better
	// prices (per kW and period) at which the agents' dual values gave the bound: at them the agents'
	// regrets over the balanced schedule (what each would gain by answering them alone) add up to
	// bound − welfare, so they are the prices that support the certified schedule.
	prices []float64
}

// gap is the certified distance of the best balanced schedule from the optimum, relative to the
// welfare without the value of unresponsive demand served. That value (the cap times the energy) is
// fixed by the supply there is, and so large that relative to the whole welfare 0.1 % would let the
// responsive part (what prices actually decide) be far off; measured against the responsive part, the
// gap also prices every kW of unresponsive demand left unserved at the cap. Where the responsive part
// is worth next to nothing (an island whose PV serves only loads at the cap), the scale does not go
// below gapFloor of the fixed value: the certified gap then still holds the unresponsive demand left
// unserved (priced at the cap) to about gapFloor × GapTolerance of what is served, far inside the
// balance rule of 0.1 % of the traded energy, without asking for more than rounding allows.
func (c certificate) gap() float64 {
	if c.states == nil {
		return math.Inf(1)
	}
	scale := math.Max(math.Abs(c.welfare-c.fixed), gapFloor*math.Abs(c.fixed))
	return (c.bound - c.welfare) / math.Max(scale, 1e-12)
}

// gapFloor is the least scale of the gap, relative to the value of the unresponsive demand served.
const gapFloor = 1e-4

// NewCoordinator starts at price zero with the given base penalty.
func NewCoordinator(n, periods int, rho, alpha float64, opt ADMMOptions) *Coordinator {
	return &Coordinator{n: n, periods: periods, opt: opt.withDefaults(), rho0: rho, rhoHigh: rho * balanceRange,
		best:   certificate{welfare: math.Inf(-1), bound: math.Inf(1)},
		signal: Signal{Rho: rho, Alpha: alpha, Price: make([]float64, periods), Shift: make([]float64, periods)}}
}

// StartAt sets the starting prices (per kW and period). Prices far above the typical one (a period
// starting at the price cap) widen the range residual balancing may raise ρ to, up to the ratio of
// the highest starting price to the typical power (kW), over the stiffness (a market of held agents
// moves its price by about stiffness × ρ × imbalance per agent): otherwise a price that has to come down from
// the cap moves by only about 64 typical prices per iteration and takes hundreds of them.
func (c *Coordinator) StartAt(prices []float64, typicalPower float64) {
	copy(c.signal.Price, prices)
	if typicalPower > 0 {
		c.typicalPrice = c.rho0 * typicalPower
		c.rhoHigh = math.Max(c.rhoHigh, maxAbs(prices)/(typicalPower*stiffness))
	}
}

// Signal returns the current broadcast.
func (c *Coordinator) Signal() Signal { return c.signal }

// Update takes every agent's previous and new state, moves the prices and says whether the best balanced
// schedule is certified within tolerance of the optimum. It returns the imbalance per period (kW) of
// the agents' schedules before restoration.
func (c *Coordinator) Update(previous, next []AgentState) (converged bool, imbalance []float64) {
	T := c.periods
	answered := append([]float64(nil), c.signal.Price...) // the prices behind next's dual values
	imbalance = make([]float64, T)
	traded := make([]float64, T)
	compliance := make([]float64, T)
	var moved, cost, dual float64
	for i, st := range next {
		cost += st.Cost
		dual += st.Dual
		for t, v := range st.Schedule {
			imbalance[t] += v
			traded[t] += math.Max(v, 0)
			compliance[t] += st.compliance(t)
			d := previous[i].Penalty[t] * (st.Share[t] - previous[i].Share[t])
			moved += d * d
		}
	}
	var price, rel float64
	for t := range T {
		c.signal.Shift[t] = c.signal.Alpha * imbalance[t] / compliance[t]
		c.signal.Price[t] += c.signal.Shift[t]
		price = math.Max(price, math.Abs(c.signal.Price[t]))
		rel = math.Max(rel, math.Abs(imbalance[t])/math.Max(traded[t], 1e-12))
	}
	if c.typicalPrice > 0 && price > outlierPrices*c.typicalPrice {
		price = c.typicalPrice
	}
	relDual := math.Sqrt(moved/float64(c.n)) / math.Max(price, 1e-12)
	c.certify(next, imbalance, cost, dual, answered)
	converged = c.best.gap() <= c.opt.GapTolerance
	// Residual balancing on the relative residuals, so the units of the two do not matter.
	switch {
	case c.signal.Freeze || c.signal.Iteration%balanceEvery != 0:
	case rel > balanceRatio*relDual && c.signal.Rho < c.rhoHigh:
		c.signal.Rho *= balanceStep
	case relDual > balanceRatio*rel && c.signal.Rho > c.rho0/balanceRange:
		c.signal.Rho /= balanceStep
	}
	c.signal.Iteration++
	c.signal.Freeze = c.signal.Iteration >= adaptIterations
	return converged, imbalance
}

// certify restores the balance of the agents' schedules, keeps the result if it is the best so far, and
// lowers the bound to the agents' dual values at the prices they answered to (every price vector gives
// a bound: weak duality), keeping those prices with it.
func (c *Coordinator) certify(next []AgentState, imbalance []float64, cost, dual float64, answered []float64) {
	if -dual < c.best.bound {
		c.best.bound, c.best.prices = -dual, answered
	}
	var offers []Offer
	var fixed float64
	for _, st := range next {
		offers = append(offers, st.Offers...)
		fixed += st.Fixed
	}
	r, extra, ok := restore(imbalance, offers)
	if w := -(cost + extra); ok && w > c.best.welfare {
		for _, o := range offers {
			if o.Fixed {
				fixed -= r.taken(o) * o.Cost
			}
		}
		c.best.iteration, c.best.states, c.best.restoration, c.best.welfare = c.signal.Iteration, next, r, w
		c.best.fixed = fixed
	}
}

// Best returns the agents' states behind the best balanced schedule, the restoration that balances them
// and its certified gap. BestPrices returns the prices that certify it.
func (c *Coordinator) Best() ([]AgentState, Restoration, float64) {
	return c.best.states, c.best.restoration, c.best.gap()
}

// BestPrices returns the prices (per kW and period) of the lowest bound: the prices at which the best
// balanced schedule is certified, not the last broadcast ones.
func (c *Coordinator) BestPrices() []float64 { return append([]float64(nil), c.best.prices...) }

// initialRho balances a typical price (money per kW and period) against a typical power (kW), which it
// also returns. Prices at half the cap and above (unresponsive loads) are left out of the typical one:
// they are the value of demand served whatever the price, not where prices usually clear.
func initialRho(p Problem) (rho, typicalPower float64) {
	var prices, powers []float64
	for _, a := range p.Agents {
		b := compile(a, p.Periods, p.PeriodHours)
		for j, t := range b.period {
			if t < 0 {
				continue
			}
			if c := math.Abs(b.cost[j]); c > 0 && c < 0.5*DefaultPriceCap*p.PeriodHours {
				prices = append(prices, c)
			}
			powers = append(powers, b.upper[j])
		}
	}
	if len(powers) == 0 {
		return 1, 0
	}
	typicalPower = median(powers)
	if len(prices) == 0 || typicalPower <= 0 {
		return 1, typicalPower
	}
	return median(prices) / typicalPower, typicalPower
}

func median(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

func solveDistributed(p Problem, opt ADMMOptions) (Solution, error) {
	opt = opt.withDefaults()
	T, n := p.Periods, len(p.Agents)
	rho, typicalPower := initialRho(p)
	parts := make([]Participant, n)
	states := make([]AgentState, n)
	for i, a := range p.Agents {
		parts[i] = NewParticipant(a, T, p.PeriodHours)
		states[i] = NewAgentState(T, rho)
	}
	coord := NewCoordinator(n, T, rho, relaxation, opt)
	start := startingPrices(p)
	for t := range start {
		start[t] *= p.PeriodHours
	}
	coord.StartAt(start, typicalPower)
	for it := 1; it <= opt.MaxIterations; it++ {
		s := coord.Signal()
		next := stepAll(parts, states, s)
		converged, _ := coord.Update(states, next)
		states = next
		for _, y := range coord.signal.Price {
			if !finite(y) {
				return Solution{}, fmt.Errorf("%w: distributed method diverged at iteration %d", ErrNotConverged, it)
			}
		}
		if converged {
			return distributedSolution(p, parts, coord, it), nil
		}
	}
	return Solution{}, fmt.Errorf("%w: distributed method after %d iterations", ErrNotConverged, opt.MaxIterations)
}

// stepAll runs every agent's step, spread over the available cores as the units of a mesh would run
// them side by side; each agent writes only its own slot, so the result does not depend on scheduling.
func stepAll(parts []Participant, states []AgentState, s Signal) []AgentState {
	next := make([]AgentState, len(parts))
	workers := min(runtime.GOMAXPROCS(0), len(parts))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(parts); i += workers {
				next[i] = parts[i].Step(states[i], s)
			}
		}()
	}
	wg.Wait()
	return next
}

// distributedSolution reports the certified balanced schedules, their welfare and the prices that
// certify them (those of the lowest bound, kept with the certificate: the last broadcast may have moved
// on from them).
func distributedSolution(p Problem, parts []Participant, c *Coordinator, it int) Solution {
	states, r, _ := c.Best()
	sol := Solution{Iterations: it, Prices: make([]float64, p.Periods), Schedules: make(map[string][]float64, len(states)),
		Welfare: c.best.welfare}
	for t, y := range c.BestPrices() {
		sol.Prices[t] = y / p.PeriodHours
	}
	net := make([]float64, p.Periods)
	for i, a := range p.Agents {
		x := parts[i].Settle(states[i], r)
		w := make([]float64, p.Periods)
		for t := range w {
			net[t] += x[t]
			w[t] = x[t] * 1000
		}
		sol.Schedules[a.ID] = w
	}
	sol.MaxImbalanceW = maxAbs(net) * 1000
	return sol
}

// Tuning, measured on random markets of 100 and 1,000 agents (see BenchmarkSolveDistributed).
const (
	relaxation   = 1.5 // over-relaxation α
	balanceRatio = 5.0 // residual balancing: act when one relative residual is this many times the other
	balanceStep  = 2.0 // and multiply or divide ρ by this
	balanceRange = 64  // within this factor of the starting ρ either way
	balanceEvery = 5   // every this many iterations, so the agents settle between changes
	// outlierPrices: a price this many times the typical one is at cap level (an unresponsive shortage).
	outlierPrices = 100
	// adaptIterations ends the adaptation of ρ and of the agents' penalties: from there on the method
	// is ADMM in a fixed weighted norm, which converges for any fixed positive weights.
	adaptIterations = 1000
)
