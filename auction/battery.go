package auction

import "math"

// batteryProx is the exact proximal step of a battery:
//
//	min  wear·h·Σ d_t + ρ/2 Σ (x_t − v_t)²
//	s.t. x_t = c_t − d_t, 0 ≤ c_t ≤ C, 0 ≤ d_t ≤ D,
//	     e_{t+1} = e_t + h (ηc c_t − d_t/ηd) ∈ [0, capacity], e_0 = initial.
//
// Writing c = x + d, the energy added in a period is h (ηc x − κ d) with κ = 1/ηd − ηc ≥ 0: for a given
// net power, discharging more than needed (d above max(0, −x)) burns κ·h per kW in losses at the wear
// cost. With a price ν on stored energy (the multiplier of the energy limits), every period becomes a
// one-variable problem solved in closed form, and ν is constant between the times where the energy
// touches 0 or the capacity. The energy path is therefore a taut string through the tube [0, capacity]:
// walk forward keeping the interval of ν that keeps every energy so far inside the tube; when the
// interval empties, the string touches the bound that closed it, and the walk restarts from there.
// At ν* = wear/κ the burn is free to choose (it costs exactly what it saves); there the burn is spread so
// the string lands where it must without leaving the tube.
type batteryProx struct {
	h, etaC, kappa, wear float64 // wear in money per kW discharged per period
	charge, discharge    float64 // kW
	capacity, initial    float64 // kWh
	x, dLow, dHigh, v    []float64
	sens                 []float64
	rho                  []float64
	nuStar, bound        float64
	inert                bool
}

func newBatteryProx(a Agent, h float64) *batteryProx {
	b := &batteryProx{h: h, etaC: float64(a.ChargeEfficiency),
		kappa: 1/float64(a.DischargeEfficiency) - float64(a.ChargeEfficiency), wear: float64(a.CostPerKWh) * h,
		charge: float64(a.MaxChargeW) / 1000, discharge: float64(a.MaxDischargeW) / 1000,
		capacity: float64(a.CapacityWh) / 1000, initial: float64(a.InitialWh) / 1000}
	b.kappa = max(0, b.kappa)
	b.inert = b.capacity <= 0 || (b.charge <= 0 && b.discharge <= 0)
	b.nuStar = math.Inf(1)
	if b.kappa > 0 {
		b.nuStar = b.wear / (b.h * b.kappa)
	}
	return b
}

// respond solves period t at storage price ν: it sets x[t] and the range of d[t] (a range only at ν*),
// and returns which piece of the response the period is on (the energy is affine in ν within a piece).
func (b *batteryProx) respond(t int, nu float64, atJump bool) uint64 {
	if atJump {
		nu = b.nuStar
	}
	storage := nu * b.h * b.etaC // cost of x through the energy it stores
	beta := b.wear - nu*b.h*b.kappa
	var x float64
	var piece uint64
	switch {
	case atJump:
		x = max(-b.discharge, min(b.charge, b.v[t]-storage/b.rho[t]))
		piece = 16
	case beta > 0: // burn nothing: d = max(0, −x)
		x, piece = minKinkedPiece(b.v[t], b.rho[t], storage-beta, storage, 0, -b.discharge, b.charge)
	default: // burn all that fits: d = min(D, C − x)
		x, piece = minKinkedPiece(b.v[t], b.rho[t], storage, storage-beta, b.charge-b.discharge, -b.discharge, b.charge)
		piece += 8
	}
	b.x[t] = x
	lo, hi := max(0, -x), min(b.discharge, b.charge-x)
	hi = max(lo, hi)
	switch {
	case atJump:
		b.dLow[t], b.dHigh[t] = lo, hi
	case beta > 0:
		b.dLow[t], b.dHigh[t] = lo, lo
	default:
		b.dLow[t], b.dHigh[t] = hi, hi
	}
	return piece
}

// minKinkedPiece is minKinked that also says which piece the minimiser is on: right or left of the kink,
// at it, or clipped by a bound.
func minKinkedPiece(v, rho, sL, sR, bp, lo, hi float64) (float64, uint64) {
	x, piece := v-sR/rho, uint64(0)
	if x < bp {
		x, piece = v-sL/rho, 1
		if x > bp {
			x, piece = bp, 2
		}
	}
	switch {
	case x <= lo:
		return lo, 3
	case x >= hi:
		return hi, 4
	}
	return x, piece
}

// atJump says whether ν is ν*, up to the last bits a root search leaves: there the burn is free.
func (b *batteryProx) atJump(nu float64) bool {
	return b.kappa > 0 && math.Abs(nu-b.nuStar) <= 1e-9*max(1, math.Abs(b.nuStar))
}

func (b *batteryProx) energy(t int, d float64) float64 { return b.h * (b.etaC*b.x[t] - b.kappa*d) }

// step is the energy period s adds at the last respond, burning the most or the least.
func (b *batteryProx) step(s int, most bool) float64 {
	if most {
		return b.energy(s, b.dHigh[s])
	}
	return b.energy(s, b.dLow[s])
}

// path returns the energy after periods a..t−1 at price ν, burning the most or the least, and a
// signature of the pieces the periods are on.
func (b *batteryProx) path(a, t int, start, nu float64, most bool) (float64, uint64) {
	e := start
	var sig uint64
	jump := b.atJump(nu)
	for s := a; s < t; s++ {
		sig = sig*31 + b.respond(s, nu, jump)
		e += b.step(s, most)
	}
	return e, sig
}

// sensitivity is computed by fix, segment by segment: within a segment whose end energy is prescribed,
// a change of v_t moves the other free periods through ν, and period t keeps 1 − a_t/Σa of it, with
// a_s = (∂E_s/∂x_s)²/ρ_s; in the free last segment it keeps all of it; at a limit or kink none.
func (b *batteryProx) sensitivity(x []float64) []float64 {
	if b.inert {
		return make([]float64, len(x))
	}
	return append([]float64(nil), b.sens...)
}

func (b *batteryProx) prox(v, rho []float64, x []float64) float64 {
	T := len(v)
	if b.inert {
		clear(x)
		return 0
	}
	if len(b.x) != T {
		b.x, b.dLow, b.dHigh, b.sens = make([]float64, T), make([]float64, T), make([]float64, T), make([]float64, T)
	}
	b.v, b.rho = v, rho
	scale := min(b.etaC, 1/b.etaC+b.kappa) * b.h
	b.bound = 2*max((maxAbs(rho)*(maxAbs(v)+b.charge+b.discharge)+b.wear)/scale, finiteOr(b.nuStar, 0)) + 1
	d := make([]float64, T)
	start, e := 0, b.initial
	for start < T {
		end, nu, target := b.segment(start, e)
		e = b.fix(start, end, e, nu, target, x, d)
		start = end
	}
	var f float64
	for t := range T {
		f += b.wear * d[t]
	}
	return f
}

func finiteOr(v, alt float64) float64 {
	if math.IsInf(v, 0) {
		return alt
	}
	return v
}

const free = -1 // the segment's end energy is not prescribed

// segment finds the next stretch of constant ν from period a with energy ea: its end, ν and the energy
// the end must reach (0, the capacity, or free at the horizon). The four paths at the ends of the
// interval of ν are extended one period at a time and recomputed only when an end moves.
func (b *batteryProx) segment(a int, ea float64) (int, float64, float64) {
	T := len(b.v)
	lo, hi := -b.bound, b.bound
	tUpper, tLower := -1, -1
	loMost, loLeast, hiMost, hiLeast := ea, ea, ea, ea
	for t := a + 1; t <= T; t++ {
		b.respond(t-1, hi, b.atJump(hi))
		hiMost += b.step(t-1, true)
		hiLeast += b.step(t-1, false)
		b.respond(t-1, lo, b.atJump(lo))
		loMost += b.step(t-1, true)
		loLeast += b.step(t-1, false)
		if hiMost > b.capacity {
			return max(tLower, a+1), hi, 0
		}
		if loLeast < 0 {
			return max(tUpper, a+1), lo, b.capacity
		}
		if loMost > b.capacity {
			lo = b.root(a, t, ea, lo, hi, true)
			tUpper = t
			loMost, _ = b.path(a, t, ea, lo, true)
			loLeast, _ = b.path(a, t, ea, lo, false)
		}
		if hiLeast < 0 {
			hi = b.root(a, t, ea, lo, hi, false)
			tLower = t
			hiMost, _ = b.path(a, t, ea, hi, true)
			hiLeast, _ = b.path(a, t, ea, hi, false)
		}
	}
	switch {
	case lo > 0:
		return tUpper, lo, b.capacity
	case hi < 0:
		return tLower, hi, 0
	}
	return T, 0, free
}

// root finds, within [lo, hi], the smallest ν at which the most-burning path to t stays at or under the
// capacity (upper), or the largest ν at which the least-burning path stays at or above 0. Both paths fall
// as ν rises. Where both ends of the bracket sit on the same pieces the path is affine in between and the
// root is interpolated, otherwise the bracket is halved, down to adjacent floats.
func (b *batteryProx) root(a, t int, ea, lo, hi float64, upper bool) float64 {
	g := func(nu float64) (float64, uint64) {
		if upper {
			e, sig := b.path(a, t, ea, nu, true)
			return e - b.capacity, sig
		}
		return b.path(a, t, ea, nu, false)
	}
	wanted := func(v float64) bool { // on the side of the root the caller wants
		if upper {
			return v <= 0
		}
		return v >= 0
	}
	gLo, sigLo := g(lo)
	gHi, sigHi := g(hi)
	for {
		mid := lo + (hi-lo)/2
		if mid <= lo || mid >= hi {
			break
		}
		if sigLo == sigHi && gLo != gHi {
			if c := lo + gLo*(hi-lo)/(gLo-gHi); c > lo && c < hi {
				mid = c
			}
		}
		gMid, sigMid := g(mid)
		if wanted(gMid) == upper {
			hi, gHi, sigHi = mid, gMid, sigMid
		} else {
			lo, gLo, sigLo = mid, gMid, sigMid
		}
		// An interpolated root is usually right to the last bit: try the neighbouring float.
		if upper && hi == mid {
			if prev := math.Nextafter(mid, math.Inf(-1)); prev > lo {
				if v, _ := g(prev); !wanted(v) {
					return mid
				}
			}
		}
		if !upper && lo == mid {
			if next := math.Nextafter(mid, math.Inf(1)); next < hi {
				if v, _ := g(next); !wanted(v) {
					return mid
				}
			}
		}
	}
	if upper {
		return hi
	}
	return lo
}

// fix sets periods a..end−1 at price ν and returns the energy at end. Near ν* the burn is chosen period by
// period, as late as the capacity allows, so the path lands on target.
func (b *batteryProx) fix(a, end int, ea, nu, target float64, x, d []float64) float64 {
	atJump := b.atJump(nu)
	var total float64
	for t := a; t < end; t++ {
		piece := b.respond(t, nu, atJump)
		b.sens[t] = 0
		if !atJump && piece%8 < 2 { // on a sloped piece: neither at a limit nor at the kink
			g := b.h * b.etaC
			if (piece == 1) == (piece < 8) { // discharging side of either case
				g = b.h / (b.etaC + b.kappa)
			}
			b.sens[t] = g * g / b.rho[t]
			total += b.sens[t]
		}
	}
	for t := a; t < end; t++ {
		if b.sens[t] > 0 {
			if target == free {
				b.sens[t] = 1
			} else {
				b.sens[t] = 1 - b.sens[t]/total
			}
		}
	}
	var room, need float64
	e := ea
	for t := a; t < end; t++ {
		e += b.energy(t, b.dLow[t])
		room += b.h * b.kappa * (b.dHigh[t] - b.dLow[t])
	}
	if target != free {
		need = max(0, min(room, e-target))
	}
	e = ea
	var burnt float64
	for t := a; t < end; t++ {
		width := b.h * b.kappa * (b.dHigh[t] - b.dLow[t])
		room -= width
		over := e + b.energy(t, b.dLow[t]) - b.capacity // above the capacity without more burn
		burn := max(0, min(width, max(need-burnt-room, over)))
		dt := b.dLow[t]
		if width > 0 {
			dt += burn / (b.h * b.kappa)
		}
		x[t], d[t] = b.x[t], dt
		burnt += burn
		e += b.energy(t, dt)
	}
	return max(0, min(b.capacity, e))
}
