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
	// prox writes argmin f(x) + Σ_t ρ_t/2 (x_t − v_t)² into x and returns f(x).
	prox(v, rho []float64, x []float64) float64
	// sensitivity returns, per period, ∂x_t/∂v_t at the last prox (0 at a limit or kink, 1 when nothing
	// else holds x_t, in between when the agent's own energy limits make periods trade off).
	sensitivity(x []float64) []float64
	// offers appends the moves the agent can make in one period alone from x (restore.go).
	offers(sink offerSink, x []float64) offerSink
	// dual returns min f(x) + y·x over the agent's constraints, or a lower bound within rounding.
	dual(y []float64) float64
}

// inside says whether x is strictly between lo and hi, beyond rounding.
func inside(x, lo, hi float64) bool {
	eps := 1e-9 * max(1, max(math.Abs(lo), math.Abs(hi)))
	return x > lo+eps && x < hi-eps
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
	return max(lo, min(hi, x))
}

// linearProx is an agent whose cost is linear in its power within per-period bounds: a load (negative
// cost per kW: its value), PV (x ≤ 0, cost per kW produced).
type linearProx struct {
	slope  []float64 // money per kW per period, as a function of x
	lo, hi []float64
}

func (a *linearProx) sensitivity(x []float64) []float64 {
	f := make([]float64, len(x))
	for t := range x {
		f[t] = unit(inside(x[t], a.lo[t], a.hi[t]))
	}
	return f
}

func unit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (a *linearProx) prox(v, rho []float64, x []float64) float64 {
	var f float64
	for t := range v {
		x[t] = max(a.lo[t], min(a.hi[t], v[t]-a.slope[t]/rho[t]))
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

func (g *gridProx) sensitivity(x []float64) []float64 {
	f := make([]float64, len(x))
	for t := range x {
		if g.importSlope[t] == g.exportSlope[t] { // no kink at zero
			f[t] = unit(inside(x[t], -g.maxImport, g.maxExport))
		} else {
			f[t] = unit(inside(x[t], -g.maxImport, 0) || inside(x[t], 0, g.maxExport))
		}
	}
	return f
}

func (g *gridProx) prox(v, rho []float64, x []float64) float64 {
	var f float64
	for t := range v {
		x[t] = minKinked(v[t], rho[t], g.importSlope[t], g.exportSlope[t], 0, -g.maxImport, g.maxExport)
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
	binding                 bool      // the budget held at the last prox
	rho                     []float64 // the penalties of the last prox
}

// sensitivity: with the budget binding, moving one period moves the others by a common multiplier, so a
// free period keeps 1 − (1/ρ_t)/Σ_free(1/ρ_s) of a change.
func (a *flexProx) sensitivity(x []float64) []float64 {
	f := make([]float64, len(x))
	var total float64
	for t := range x {
		if t < a.deadline && inside(x[t], 0, a.maxKW) {
			f[t] = 1 / a.rho[t]
			total += f[t]
		}
	}
	for t := range f {
		if f[t] > 0 {
			if a.binding {
				f[t] = 1 - f[t]/total
			} else {
				f[t] = 1
			}
		}
	}
	return f
}

func (a *flexProx) at(v, rho []float64, mu float64, x []float64) float64 {
	var e float64
	for t := range x {
		if t < a.deadline {
			x[t] = max(0, min(a.maxKW, v[t]+(a.value-mu*a.h)/rho[t]))
		} else {
			x[t] = 0
		}
		e += x[t] * a.h
	}
	return e
}

func (a *flexProx) prox(v, rho []float64, x []float64) float64 {
	a.rho = rho
	a.binding = a.at(v, rho, 0, x) > a.energy
	if a.binding {
		lo, hi := 0.0, a.value/a.h+maxAbs(rho)*(maxAbs(v)+a.maxKW)/a.h+1
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
