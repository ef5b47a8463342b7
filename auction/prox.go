package auction

import "math"

// Each agent's step of the distributed method: the proximal operator of its own cost,
//
//	x = argmin f(x) + ρ/2 ‖x − v‖²   over the agent's own constraints,
//
// where x is its net power per period in kW (consumption positive) and f its cost minus its benefit in
// money. Every operator here is exact (closed form, or bisection run to the last bit of a float64).

// proxer is one agent's local solver.
type proxer interface {
	// prox writes argmin f(x) + ρ/2 ‖x − v‖² into x and returns f(x).
	prox(v []float64, rho float64, x []float64) float64
}

// minKinked minimises ρ/2 (x−v)² + g(x) over [lo, hi], where g is continuous and piecewise linear with
// slope sL left of bp and sR ≥ sL right of it.
func minKinked(v, rho, sL, sR, bp, lo, hi float64) float64 {
	x := v - sR/rho
	if x < bp {
		x = v - sL/rho
		if x > bp {
			x = bp
		}
	}
	return math.Max(lo, math.Min(hi, x))
}

// linearProx is an agent whose cost is linear in its power within per-period bounds: a load (negative
// cost per kW: its value), PV (x ≤ 0, cost per kW produced).
type linearProx struct {
	slope  []float64 // money per kW per period, as a function of x
	lo, hi []float64
}

func (a *linearProx) prox(v []float64, rho float64, x []float64) float64 {
	var f float64
	for t := range v {
		x[t] = math.Max(a.lo[t], math.Min(a.hi[t], v[t]-a.slope[t]/rho))
		f += a.slope[t] * x[t]
	}
	return f
}

// gridProx is the utility connection: importing (x < 0) costs the import price, exporting (x > 0) earns the
// export price, which validation keeps at or below the import price so the cost is convex.
type gridProx struct {
	importSlope, exportSlope []float64 // money per kW per period: −import·h, −export·h
	maxImport, maxExport     float64
}

func (g *gridProx) prox(v []float64, rho float64, x []float64) float64 {
	var f float64
	for t := range v {
		x[t] = minKinked(v[t], rho, g.importSlope[t], g.exportSlope[t], 0, -g.maxImport, g.maxExport)
		if x[t] < 0 {
			f += g.importSlope[t] * x[t]
		} else {
			f += g.exportSlope[t] * x[t]
		}
	}
	return f
}

// flexProx is a flexible load: 0..maxKW before the deadline, at most energy kWh in all, worth value per kW
// per period. With a multiplier μ ≥ 0 on the budget, x_t(μ) = clip(v_t + (value − μh)/ρ, 0, maxKW); μ is
// found by bisection until its bracket cannot shrink.
type flexProx struct {
	h, value, maxKW, energy float64
	deadline                int
}

func (a *flexProx) at(v []float64, rho, mu float64, x []float64) float64 {
	var e float64
	for t := range x {
		if t < a.deadline {
			x[t] = math.Max(0, math.Min(a.maxKW, v[t]+(a.value-mu*a.h)/rho))
		} else {
			x[t] = 0
		}
		e += x[t] * a.h
	}
	return e
}

func (a *flexProx) prox(v []float64, rho float64, x []float64) float64 {
	if a.at(v, rho, 0, x) > a.energy {
		lo, hi := 0.0, a.value/a.h+rho*(maxAbs(v)+a.maxKW)/a.h+1
		for {
			mid := lo + (hi-lo)/2
			if mid <= lo || mid >= hi {
				break
			}
			if a.at(v, rho, mid, x) > a.energy {
				lo = mid
			} else {
				hi = mid
			}
		}
		a.at(v, rho, hi, x) // the side of the bracket that keeps the budget
	}
	var f float64
	for _, xt := range x {
		f -= a.value * xt
	}
	return f
}

// newProxer builds the local solver of an agent (powers in kW, energies in kWh, money per period).
func newProxer(a Agent, periods int, h float64) proxer {
	kw := func(w float64) float64 { return w / 1000 }
	mk := func() *linearProx {
		return &linearProx{slope: make([]float64, periods), lo: make([]float64, periods), hi: make([]float64, periods)}
	}
	switch a.Kind {
	case KindLoad:
		p := mk()
		for t := range periods {
			p.slope[t], p.hi[t] = -float64(a.ValuePerKWh)*h, kw(float64(a.DemandW[t]))
		}
		return p
	case KindPV:
		p := mk()
		for t := range periods {
			p.slope[t], p.lo[t] = -float64(a.CostPerKWh)*h, -kw(float64(a.ForecastW[t]))
		}
		return p
	case KindGrid:
		g := &gridProx{importSlope: make([]float64, periods), exportSlope: make([]float64, periods),
			maxImport: kw(float64(a.MaxImportW)), maxExport: kw(float64(a.MaxExportW))}
		for t := range periods {
			g.importSlope[t], g.exportSlope[t] = -float64(a.ImportPrice[t])*h, -float64(a.ExportPrice[t])*h
		}
		return g
	case KindFlexibleLoad:
		return &flexProx{h: h, value: float64(a.ValuePerKWh) * h, maxKW: kw(float64(a.MaxW)),
			energy: float64(a.EnergyWh) / 1000, deadline: a.Deadline}
	case KindBattery:
		return newBatteryProx(a, h)
	}
	return mk() // unreachable for a validated agent: an agent that cannot move
}
