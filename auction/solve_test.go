package auction

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fractals-energy/fractals/internal/units"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize/convex/lp"
)

// randomProblem draws a microgrid of n agents over T periods: every kind, mixed parameters.
func randomProblem(rng *rand.Rand, n, periods int, withGrid bool) Problem {
	return randomMarket(rng, n, periods, withGrid, true)
}

// randomMarket is randomProblem with or without unresponsive loads (valued at the price cap).
func randomMarket(rng *rand.Rand, n, periods int, withGrid, unresponsive bool) Problem {
	p := Problem{Periods: periods, PeriodHours: []float64{1, 0.5, 0.25}[rng.IntN(3)]}
	series := func(scale float64) []units.Watts {
		s := make([]units.Watts, periods)
		for t := range s {
			s[t] = units.Watts(math.Round(scale * rng.Float64()))
		}
		return s
	}
	prices := func(base float64) []units.PricePerKWh {
		s := make([]units.PricePerKWh, periods)
		for t := range s {
			s[t] = units.PricePerKWh(base * (0.5 + rng.Float64()))
		}
		return s
	}
	if withGrid {
		imp := prices(0.3)
		exp := make([]units.PricePerKWh, periods)
		for t := range exp {
			exp[t] = imp[t] * units.PricePerKWh(0.2+0.5*rng.Float64())
		}
		p.Agents = append(p.Agents, Agent{ID: "grid", Kind: KindGrid, ImportPrice: imp, ExportPrice: exp,
			MaxImportW: units.Watts(2000 * float64(n)), MaxExportW: units.Watts(1000 * float64(n))})
	}
	for i := len(p.Agents); i < n; i++ {
		id := fmt.Sprint("a", i)
		kinds := 5
		if !unresponsive {
			kinds = 4
		}
		switch rng.IntN(kinds) {
		case 0:
			p.Agents = append(p.Agents, Agent{ID: id, Kind: KindLoad, DemandW: series(2000),
				ValuePerKWh: units.PricePerKWh(0.1 + rng.Float64())})
		case 1:
			p.Agents = append(p.Agents, Agent{ID: id, Kind: KindFlexibleLoad, EnergyWh: units.WattHours(1000 + 20000*rng.Float64()),
				MaxW: units.Watts(3000 + 4000*rng.Float64()), Deadline: 1 + rng.IntN(periods), ValuePerKWh: units.PricePerKWh(0.2 + 0.6*rng.Float64())})
		case 2:
			capWh := 2000 + 10000*rng.Float64()
			p.Agents = append(p.Agents, Agent{ID: id, Kind: KindBattery, CapacityWh: units.WattHours(capWh),
				InitialWh: units.WattHours(capWh * rng.Float64()), MaxChargeW: units.Watts(1000 + 4000*rng.Float64()),
				MaxDischargeW: units.Watts(1000 + 4000*rng.Float64()), ChargeEfficiency: units.Fraction(0.85 + 0.15*rng.Float64()),
				DischargeEfficiency: units.Fraction(0.85 + 0.15*rng.Float64()), CostPerKWh: units.PricePerKWh(0.05 * rng.Float64())})
		case 3:
			p.Agents = append(p.Agents, Agent{ID: id, Kind: KindPV, ForecastW: series(4000), CostPerKWh: units.PricePerKWh(0.02 * rng.Float64())})
		default:
			p.Agents = append(p.Agents, Agent{ID: id, Kind: KindLoad, DemandW: series(500), ValuePerKWh: DefaultPriceCap})
		}
	}
	return p
}

// simplexWelfare solves the same program with gonum's dense simplex: every variable's upper bound
// becomes a row with a slack.
func simplexWelfare(t *testing.T, p Problem) float64 {
	t.Helper()
	var blocks []block
	for _, a := range p.Agents {
		blocks = append(blocks, compile(a, p.Periods, p.PeriodHours))
	}
	var nVar, nOwn int
	for _, b := range blocks {
		nVar += len(b.cost)
		nOwn += len(b.rhs)
	}
	rows := p.Periods + nOwn + nVar
	A := mat.NewDense(rows, 2*nVar, nil)
	rhs := make([]float64, rows)
	c := make([]float64, 2*nVar)
	j0, r0 := 0, p.Periods
	for _, b := range blocks {
		for j := range b.cost {
			c[j0+j] = b.cost[j]
			if t := b.period[j]; t >= 0 {
				A.Set(t, j0+j, b.sign[j])
			}
			for _, e := range b.column[j] {
				A.Set(r0+e.row, j0+j, e.coef)
			}
			ub := p.Periods + nOwn + j0 + j
			A.Set(ub, j0+j, 1)
			A.Set(ub, nVar+j0+j, 1)
			rhs[ub] = b.upper[j]
		}
		copy(rhs[r0:], b.rhs)
		j0 += len(b.cost)
		r0 += len(b.rhs)
	}
	opt, _, err := lp.Simplex(c, A, rhs, 1e-10, nil)
	if err != nil {
		t.Fatalf("simplex: %v", err)
	}
	return -opt
}

func TestCentralMatchesSimplex(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 25 {
		p := randomProblem(rng, 3+rng.IntN(6), 2+rng.IntN(5), trial%3 != 0)
		sol, err := Solve(p, Central, ADMMOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := simplexWelfare(t, p)
		if math.Abs(sol.Welfare-want) > 1e-7*math.Max(1, math.Abs(want)) {
			t.Fatalf("trial %d: interior point %.10g, simplex %.10g", trial, sol.Welfare, want)
		}
		if sol.MaxImbalanceW > 1e-5 {
			t.Fatalf("trial %d: imbalance %g W", trial, sol.MaxImbalanceW)
		}
		checkSchedules(t, p, sol, 1e-3)
	}
}

// checkSchedules asserts every agent's own limits (in W) and the balance of every period.
func checkSchedules(t *testing.T, p Problem, sol Solution, tolW float64) {
	t.Helper()
	for _, a := range p.Agents {
		s := sol.Schedules[a.ID]
		if len(s) != p.Periods {
			t.Fatalf("%s: %d periods scheduled", a.ID, len(s))
		}
		for k, x := range s {
			lo, hi := 0.0, 0.0
			switch a.Kind {
			case KindLoad:
				hi = float64(a.DemandW[k])
			case KindPV:
				lo = -float64(a.ForecastW[k])
			case KindFlexibleLoad:
				if k < a.Deadline {
					hi = float64(a.MaxW)
				}
			case KindBattery:
				lo, hi = -float64(a.MaxDischargeW), float64(a.MaxChargeW)
			case KindGrid:
				lo, hi = -float64(a.MaxImportW), float64(a.MaxExportW)
			}
			if x < lo-tolW || x > hi+tolW {
				t.Fatalf("%s period %d: %g W outside %g..%g", a.ID, k, x, lo, hi)
			}
		}
		if a.Kind == KindFlexibleLoad {
			var e float64
			for _, x := range s {
				e += x * p.PeriodHours
			}
			if e > float64(a.EnergyWh)+tolW*float64(p.Periods) {
				t.Fatalf("%s: %g Wh served, budget %g", a.ID, e, float64(a.EnergyWh))
			}
		}
	}
}
