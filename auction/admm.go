package auction

import (
	"fmt"
	"math"
	"sort"
)

// The distributed method: ADMM in its exchange form (Boyd et al., "Distributed Optimization and
// Statistical Learning via ADMM", §7.3.2). Every iteration,
//
//	agent i:      x_i ← argmin f_i(x) + ρ/2 ‖x − (x_i − x̄ − u)‖²      (its own problem only)
//	coordinator:  x̄ ← mean of the x_i;  u ← u + x̄                      (prices move with the imbalance)
//
// The price of period t is ρ·u_t per kW and period, ρ·u_t/h per kWh. An agent's step is a pure function
// of its previous schedule and the broadcast Signal, and the coordinator's a pure function of the
// schedules, so either can run on any unit once the mesh carries Signal and Response. ρ follows residual
// balancing: when the imbalance dominates it grows, when the schedules still move it shrinks (u is
// rescaled so the prices do not jump).

// ADMMOptions tunes the distributed method; the zero value picks the defaults.
type ADMMOptions struct {
	// MaxIterations stops a run that has not converged (default 300); it is reported as an error.
	MaxIterations int
	// Tolerance is the relative imbalance allowed in every period and the relative price movement
	// (default 2e-4).
	Tolerance float64
}

func (o ADMMOptions) withDefaults() ADMMOptions {
	if o.MaxIterations <= 0 {
		o.MaxIterations = 300
	}
	if o.Tolerance <= 0 {
		o.Tolerance = 2e-4
	}
	return o
}

// Signal is what the coordinator broadcasts each iteration.
type Signal struct {
	Iteration int
	Rho       float64   // penalty, money per kW² per period
	Alpha     float64   // over-relaxation
	Mean      []float64 // x̄: mean net power per period of the last responses, kW
	Scaled    []float64 // u: scaled price per period, kW (the price is ρ·u per kW and period)
}

// AgentState is what an agent keeps between iterations: its last schedule and its share z of the
// balanced exchange (Σ z = 0 over the agents).
type AgentState struct {
	Schedule []float64 // kW per period
	Share    []float64
	Cost     float64 // money, at Schedule
}

// Participant is one agent of the distributed market.
type Participant struct {
	solver proxer
}

// NewParticipant builds the local solver of a validated agent.
func NewParticipant(a Agent, periods int, periodHours float64) Participant {
	return Participant{solver: newProxer(a, periods, periodHours)}
}

// NewAgentState is an idle agent.
func NewAgentState(periods int) AgentState {
	return AgentState{Schedule: make([]float64, periods), Share: make([]float64, periods)}
}

// Step is the agent's iteration, a function of its own state and the signal only: it moves its share
// towards its last schedule (relaxed) and solves its own problem against the prices.
func (p Participant) Step(st AgentState, s Signal) AgentState {
	T := len(st.Schedule)
	next := AgentState{Schedule: make([]float64, T), Share: make([]float64, T)}
	v := make([]float64, T)
	for t := range T {
		next.Share[t] = s.Alpha*st.Schedule[t] + (1-s.Alpha)*st.Share[t] - s.Alpha*s.Mean[t]
		v[t] = next.Share[t] - s.Scaled[t]
	}
	next.Cost = p.solver.prox(v, s.Rho, next.Schedule)
	return next
}

// Coordinator holds the price state of the distributed market.
type Coordinator struct {
	n, periods int
	signal     Signal
	tol        float64
}

// NewCoordinator starts with every agent idle at the given penalty.
func NewCoordinator(n, periods int, rho, alpha, tol float64) *Coordinator {
	return &Coordinator{n: n, periods: periods, tol: tol,
		signal: Signal{Rho: rho, Alpha: alpha, Mean: make([]float64, periods), Scaled: make([]float64, periods)}}
}

// Signal returns the current broadcast.
func (c *Coordinator) Signal() Signal { return c.signal }

// Update takes every agent's previous and new state, moves the prices and says whether the imbalance and
// the movement of the shares are under tolerance. It returns the imbalance per period (kW).
func (c *Coordinator) Update(previous, next []AgentState) (converged bool, imbalance []float64) {
	T := c.periods
	mean := make([]float64, T)
	traded := make([]float64, T)
	var moved float64
	for i, st := range next {
		for t, v := range st.Schedule {
			mean[t] += v
			traded[t] += math.Max(v, 0)
			d := st.Share[t] - previous[i].Share[t]
			moved += d * d
		}
	}
	imbalance = append([]float64(nil), mean...)
	for t := range mean {
		mean[t] /= float64(c.n)
	}
	rho, alpha := c.signal.Rho, c.signal.Alpha
	primal := math.Sqrt(float64(c.n)) * norm(mean)
	dual := rho * math.Sqrt(moved)
	u := append([]float64(nil), c.signal.Scaled...)
	var price float64
	for t := range u {
		u[t] += alpha * mean[t]
		price = math.Max(price, math.Abs(rho*u[t]))
	}
	converged = dual <= c.tol*math.Sqrt(float64(c.n))*math.Max(price, 1e-9)
	var rel float64
	for t := range T {
		rel = math.Max(rel, math.Abs(imbalance[t])/math.Max(traded[t], 1e-12))
		if math.Abs(imbalance[t]) > c.tol*traded[t] {
			converged = false
		}
	}
	if debugADMM && c.signal.Iteration%25 == 0 {
		fmt.Println("relimb", rel, "reldual", dual/(math.Sqrt(float64(c.n))*math.Max(price, 1e-9)), primal, dual)
	}
	relDual := dual / (math.Sqrt(float64(c.n)) * math.Max(price, 1e-9))
	if balanceResiduals {
		switch {
		case rel > balanceMu*relDual:
			c.signal.Rho *= balanceTau
		case relDual > balanceMu*rel:
			c.signal.Rho /= balanceTau
		}
	}
	for t := range u {
		u[t] *= rho / c.signal.Rho
	}
	c.signal.Scaled = u
	c.signal.Mean = mean
	c.signal.Iteration++
	return converged, imbalance
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// initialRho balances a typical price (money per kW and period) against a typical power (kW).
func initialRho(p Problem) float64 {
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
	if len(prices) == 0 || len(powers) == 0 {
		return 1
	}
	return median(prices) / median(powers)
}

func median(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

func solveDistributed(p Problem, opt ADMMOptions) (Solution, error) {
	opt = opt.withDefaults()
	T, n := p.Periods, len(p.Agents)
	parts := make([]Participant, n)
	states := make([]AgentState, n)
	for i, a := range p.Agents {
		parts[i] = NewParticipant(a, T, p.PeriodHours)
		states[i] = NewAgentState(T)
	}
	coord := NewCoordinator(n, T, rhoScale*initialRho(p), relaxation, opt.Tolerance)
	for it := 1; it <= opt.MaxIterations; it++ {
		s := coord.Signal()
		next := make([]AgentState, n)
		for i := range parts {
			next[i] = parts[i].Step(states[i], s)
		}
		converged, imbalance := coord.Update(states, next)
		states = next
		if debugADMM && it%25 == 0 {
			var w float64
			for _, st := range states {
				w -= st.Cost
			}
			fmt.Println("  welfare", w, "imbalance", maxAbs(imbalance), "rho", coord.signal.Rho)
		}
		if converged {
			return distributedSolution(p, states, coord, imbalance, it), nil
		}
	}
	return Solution{}, fmt.Errorf("%w: distributed method after %d iterations", ErrNotConverged, opt.MaxIterations)
}

// distributedSolution reports the schedules and the prices of the last signal.
func distributedSolution(p Problem, states []AgentState, c *Coordinator, imbalance []float64, it int) Solution {
	sol := Solution{Iterations: it, Prices: make([]float64, p.Periods), Schedules: make(map[string][]float64, len(states))}
	for t := range sol.Prices {
		sol.Prices[t] = c.signal.Rho * c.signal.Scaled[t] / p.PeriodHours
	}
	for i, a := range p.Agents {
		sol.Welfare -= states[i].Cost
		w := make([]float64, p.Periods)
		for t := range w {
			w[t] = states[i].Schedule[t] * 1000
		}
		sol.Schedules[a.ID] = w
	}
	sol.MaxImbalanceW = maxAbs(imbalance) * 1000
	return sol
}

var (
	debugADMM        = false
	rhoScale         = 1.0
	relaxation       = 1.0
	balanceResiduals = true
	balanceMu        = 10.0
	balanceTau       = 2.0
)
