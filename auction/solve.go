package auction

import (
	"fmt"
	"math"
)

// Method picks how a multi-period market is solved.
type Method string

// The two ways to solve, which must agree.
const (
	Central     Method = "central"     // one interior-point solve of the whole program
	Distributed Method = "distributed" // ADMM exchange: every agent solves only its own problem
)

// Solution is the outcome of a multi-period market.
type Solution struct {
	// Welfare is the total benefit minus the total cost, in the currency of the prices.
	Welfare float64 `json:"welfare"`
	// Prices is the clearing price of each period, per kWh.
	Prices []float64 `json:"prices"`
	// Iterations is the number of interior-point or ADMM iterations.
	Iterations int `json:"iterations"`
	// MaxImbalanceW is the largest |Σ schedules| over the periods, in W.
	MaxImbalanceW float64 `json:"max_imbalance_w"`
	// Schedules is each agent's net power per period in W: consumption positive, generation negative.
	Schedules map[string][]float64 `json:"schedules"`
}

// Solve validates p and solves it with the chosen method (defaults filled in: 24 periods of one hour).
func Solve(p Problem, m Method, opt ADMMOptions) (Solution, error) {
	p = p.withDefaults()
	if err := p.Validate(); err != nil {
		return Solution{}, err
	}
	var sol Solution
	var err error
	switch m {
	case Central, "":
		sol, err = solveCentral(p)
	case Distributed:
		sol, err = solveDistributed(p, opt)
	default:
		return Solution{}, fmt.Errorf("method %q, want central or distributed", m)
	}
	sol.clearNegativeZeros()
	return sol, err
}

// clearNegativeZeros turns every -0 into 0, which JSON would otherwise print as -0 (an idle agent's
// schedule, a price of a period nobody trades in).
func (s *Solution) clearNegativeZeros() {
	s.Welfare = positiveZero(s.Welfare)
	s.MaxImbalanceW = positiveZero(s.MaxImbalanceW)
	for t := range s.Prices {
		s.Prices[t] = positiveZero(s.Prices[t])
	}
	for _, sched := range s.Schedules {
		for t := range sched {
			sched[t] = positiveZero(sched[t])
		}
	}
}

func solveCentral(p Problem) (Solution, error) {
	h := p.PeriodHours
	blocks := make([]block, len(p.Agents))
	for i, a := range p.Agents {
		blocks[i] = compile(a, p.Periods, h)
	}
	r, err := solveBlockLP(blocks, p.Periods)
	if err != nil {
		return Solution{}, err
	}
	sol := Solution{Welfare: -r.objective, Iterations: r.iterations, Prices: make([]float64, p.Periods),
		Schedules: make(map[string][]float64, len(p.Agents))}
	for t, y := range r.balanceDual {
		sol.Prices[t] = -y / h
	}
	net := make([]float64, p.Periods)
	for i, a := range p.Agents {
		s := blocks[i].schedule(r.x[i], p.Periods)
		for t := range s {
			net[t] += s[t]
			s[t] *= 1000
		}
		sol.Schedules[a.ID] = s
	}
	sol.MaxImbalanceW = maxAbs(net) * 1000
	return sol, nil
}

func maxAbs(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}
