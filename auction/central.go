package auction

import (
	"errors"
	"fmt"
	"math"
)

// The centralised reference: a primal-dual interior-point method (Mehrotra's predictor-corrector) for
// the block-angular welfare program. Each Newton step needs (A Θ Aᵀ) Δy = r; ordering the T balance rows
// first, each agent's own rows form a small dense block, so the step eliminates every block (a battery
// has T rows, a flexible load one, the others none) and leaves a T×T Schur complement: the cost grows
// linearly with the number of agents. Interior-point methods do not care about degeneracy (ties between
// agents are everywhere in a market), and they stop at a relative duality gap of 1e-10, which is exact
// for any price or schedule anyone will print.

// ipmTolerance is the relative primal, dual and duality-gap tolerance.
const ipmTolerance = 1e-10

// maxIPMIterations: Mehrotra's method converges in 20–60 steps; more means trouble, reported as such.
const maxIPMIterations = 200

// ErrNotConverged is returned when a solver stops at its iteration limit.
var ErrNotConverged = errors.New("auction: solver did not converge")

type ipmBlock struct {
	*block
	x, s, z, w, y       []float64
	theta, rhat, dx     []float64
	dz, dw, dy          []float64
	rd, rp              []float64
	chol, xs, v         []float64 // Cholesky of M_aa; M_aa⁻¹ M_aL (m×T); M_aa⁻¹ r_a
	maL                 []float64 // M_aL (m×T)
	affDX, affDZ, affDW []float64
}

type lpResult struct {
	x           [][]float64
	balanceDual []float64
	objective   float64
	iterations  int
}

func newIPMBlock(b *block, periods int) *ipmBlock {
	n, m := len(b.cost), len(b.rhs)
	f := func(k int) []float64 { return make([]float64, k) }
	ib := &ipmBlock{block: b, x: f(n), s: f(n), z: f(n), w: f(n), y: f(m), theta: f(n), rhat: f(n), dx: f(n),
		dz: f(n), dw: f(n), dy: f(m), rd: f(n), rp: f(m), chol: f(m * m), xs: f(m * periods), v: f(m),
		maL: f(m * periods), affDX: f(n), affDZ: f(n), affDW: f(n)}
	for j, u := range b.upper {
		ib.x[j], ib.s[j] = u/2, u/2
		ib.z[j] = 1 + math.Abs(b.cost[j])
		ib.w[j] = ib.z[j]
	}
	return ib
}

// solveBlockLP minimises Σ cost·x over all blocks subject to their rows, their bounds and balance in every
// period.
func solveBlockLP(blocks []block, periods int) (lpResult, error) {
	return solveBlockLPTol(blocks, periods, ipmTolerance, nearTolerance)
}

// nearTolerance is how close an iterate must be to accept it when the Newton system turns singular at
// the very end (the market peer's small programs, solved hundreds of times, meet this now and then).
const nearTolerance = 1e-7

// stallLimit is how many iterations in a row the primal residual may fail to shrink before the
// iterate is accepted, if it is within the caller's near tolerance: the best the arithmetic allows.
const stallLimit = 5

// solveBlockLPTol is solveBlockLP to a given relative tolerance, accepting an iterate within near of
// it when the method can get no closer (a singular Newton system, or a primal residual that stalls).
func solveBlockLPTol(blocks []block, periods int, tol, near float64) (lpResult, error) {
	bs := make([]*ipmBlock, len(blocks))
	active := make([]bool, periods) // periods where some variable can move
	var costScale, rhsScale float64
	quadratic := false
	for i := range blocks {
		bs[i] = newIPMBlock(&blocks[i], periods)
		quadratic = quadratic || blocks[i].quad != nil
		for j, t := range blocks[i].period {
			if t >= 0 {
				active[t] = true
			}
			if t2, _ := blocks[i].second(j); t2 >= 0 {
				active[t2] = true
			}
			costScale = math.Max(costScale, math.Abs(blocks[i].cost[j]))
		}
		for _, r := range blocks[i].rhs {
			rhsScale = math.Max(rhsScale, math.Abs(r))
		}
	}
	yL := make([]float64, periods)
	dyL := make([]float64, periods)
	rpL := make([]float64, periods)
	rL := make([]float64, periods)
	schur := make([]float64, periods*periods)
	st := &ipmState{blocks: bs, periods: periods, yL: yL, dyL: dyL, rpL: rpL, rL: rL, schur: schur, active: active}
	prevPinf, stalled := math.Inf(1), 0
	for it := 1; it <= maxIPMIterations; it++ {
		pinf, dinf, gap, mu, obj := st.residuals()
		// The balance rows add up thousands of kW: their residual is judged against their own size.
		within := func(tol float64) bool {
			return pinf <= tol*(1+math.Max(rhsScale, st.flowScale())) && dinf <= tol*(1+costScale) && gap <= tol*(1+math.Abs(obj))
		}
		if within(tol) {
			return st.result(obj, it-1), nil
		}
		// Complementarity gone but the primal residual stuck above tol (an iterate pinned to a bound
		// by rounding): it will not get better.
		if pinf > 0.9*prevPinf && within(math.Max(tol, near)) {
			if stalled++; stalled >= stallLimit {
				return st.result(obj, it-1), nil
			}
		} else {
			stalled = 0
		}
		prevPinf = pinf
		if !st.factor() {
			if within(math.Max(tol, near)) {
				return st.result(obj, it-1), nil
			}
			return lpResult{}, fmt.Errorf("%w: singular Newton system at iteration %d", ErrNotConverged, it)
		}
		// Predictor: the affine-scaling direction.
		st.direct(func(b *ipmBlock, j int) (float64, float64) { return -b.x[j] * b.z[j], -b.s[j] * b.w[j] })
		ap, ad := st.stepLengths()
		muAff := st.muAfter(ap, ad)
		sigma := math.Pow(muAff/mu, 3)
		for _, b := range bs {
			copy(b.affDX, b.dx)
			copy(b.affDZ, b.dz)
			copy(b.affDW, b.dw)
		}
		// Corrector: centring plus the second-order term.
		st.direct(func(b *ipmBlock, j int) (float64, float64) {
			return sigma*mu - b.x[j]*b.z[j] - b.affDX[j]*b.affDZ[j], sigma*mu - b.s[j]*b.w[j] + b.affDX[j]*b.affDW[j]
		})
		ap, ad = st.stepLengths()
		if quadratic {
			// With a quadratic cost the dual residual depends on x: separate primal and dual steps
			// leave it behind and the method stalls (the market peer's programs failed by the
			// hundred), so both take the shorter step.
			ap = math.Min(ap, ad)
			ad = ap
		}
		st.move(math.Min(1, 0.995*ap), math.Min(1, 0.995*ad))
	}
	return lpResult{}, fmt.Errorf("%w: interior point after %d iterations", ErrNotConverged, maxIPMIterations)
}

type ipmState struct {
	blocks           []*ipmBlock
	periods          int
	yL, dyL, rpL, rL []float64
	schur            []float64
	active           []bool
}

// flowScale is the largest total flow |x| through one balance row.
func (st *ipmState) flowScale() float64 {
	flow := make([]float64, st.periods)
	for _, b := range st.blocks {
		for j, t := range b.period {
			if t >= 0 {
				flow[t] += math.Abs(b.x[j])
			}
			if t2, _ := b.second(j); t2 >= 0 {
				flow[t2] += math.Abs(b.x[j])
			}
		}
	}
	return maxAbs(flow)
}

func (st *ipmState) result(obj float64, iterations int) lpResult {
	r := lpResult{balanceDual: append([]float64(nil), st.yL...), objective: obj, iterations: iterations}
	for _, b := range st.blocks {
		r.x = append(r.x, append([]float64(nil), b.x...))
	}
	return r
}

// residuals computes rp = b − Ax and rd = c − Aᵀy − z + w and returns their largest entries, the
// complementarity gap, its mean and the objective.
func (st *ipmState) residuals() (pinf, dinf, gap, mu, obj float64) {
	clear(st.rpL)
	var n int
	for _, b := range st.blocks {
		copy(b.rp, b.rhs)
		for j := range b.x {
			x := b.x[j]
			if t := b.period[j]; t >= 0 {
				st.rpL[t] -= b.sign[j] * x
			}
			aty := 0.0
			if t := b.period[j]; t >= 0 {
				aty = b.sign[j] * st.yL[t]
			}
			if t2, sign2 := b.second(j); t2 >= 0 {
				st.rpL[t2] -= sign2 * x
				aty += sign2 * st.yL[t2]
			}
			for _, e := range b.column[j] {
				b.rp[e.row] -= e.coef * x
				aty += e.coef * b.y[e.row]
			}
			q := b.quadAt(j)
			b.rd[j] = b.cost[j] + q*x - aty - b.z[j] + b.w[j]
			dinf = math.Max(dinf, math.Abs(b.rd[j]))
			gap += x*b.z[j] + b.s[j]*b.w[j]
			obj += b.cost[j]*x + q*x*x/2
			n++
		}
		for _, r := range b.rp {
			pinf = math.Max(pinf, math.Abs(r))
		}
	}
	for _, r := range st.rpL {
		pinf = math.Max(pinf, math.Abs(r))
	}
	if n > 0 {
		mu = gap / float64(2*n)
	}
	return pinf, dinf, gap, mu, obj
}

// factor forms Θ, factors every block's M_aa and the Schur complement of the balance rows.
func (st *ipmState) factor() bool {
	T := st.periods
	clear(st.schur)
	for _, b := range st.blocks {
		for j := range b.x {
			b.theta[j] = 1 / (b.quadAt(j) + b.z[j]/b.x[j] + b.w[j]/b.s[j])
			t := b.period[j]
			if t >= 0 {
				st.schur[t*T+t] += b.sign[j] * b.sign[j] * b.theta[j]
			}
			if t2, sign2 := b.second(j); t2 >= 0 {
				st.schur[t2*T+t2] += sign2 * sign2 * b.theta[j]
				if t >= 0 {
					st.schur[t*T+t2] += b.sign[j] * sign2 * b.theta[j]
					st.schur[t2*T+t] += b.sign[j] * sign2 * b.theta[j]
				}
			}
		}
		m := len(b.rhs)
		if m == 0 {
			continue
		}
		clear(b.chol)
		clear(b.maL)
		for j := range b.x {
			th := b.theta[j]
			col := b.column[j]
			for _, e1 := range col {
				for _, e2 := range col {
					b.chol[e1.row*m+e2.row] += e1.coef * th * e2.coef
				}
				if t := b.period[j]; t >= 0 {
					b.maL[e1.row*T+t] += e1.coef * th * b.sign[j]
				}
				if t2, sign2 := b.second(j); t2 >= 0 {
					b.maL[e1.row*T+t2] += e1.coef * th * sign2
				}
			}
		}
		if !cholesky(b.chol, m) {
			return false
		}
		// xs = M_aa⁻¹ M_aL, column by column; schur −= M_La xs.
		col := make([]float64, m)
		for t := range T {
			for r := range m {
				col[r] = b.maL[r*T+t]
			}
			cholSolve(b.chol, m, col)
			for r := range m {
				b.xs[r*T+t] = col[r]
			}
		}
		for t1 := range T {
			for t2 := range T {
				var sum float64
				for r := range m {
					sum += b.maL[r*T+t1] * b.xs[r*T+t2]
				}
				st.schur[t1*T+t2] -= sum
			}
		}
	}
	for t := range T {
		if !st.active[t] {
			for k := range T {
				st.schur[t*T+k], st.schur[k*T+t] = 0, 0
			}
			st.schur[t*T+t] = 1
		}
	}
	return cholesky(st.schur, T)
}

// direct solves the Newton system for the complementarity right-hand sides given by rc (for x·z and
// s·w) and leaves the direction in dx, dz, dw, dy and dyL.
func (st *ipmState) direct(rc func(b *ipmBlock, j int) (float64, float64)) {
	T := st.periods
	copy(st.rL, st.rpL)
	for _, b := range st.blocks {
		m := len(b.rhs)
		copy(b.v, b.rp)
		for j := range b.x {
			rxz, rsw := rc(b, j)
			b.rhat[j] = b.rd[j] - rxz/b.x[j] + rsw/b.s[j]
			b.dz[j], b.dw[j] = rxz, rsw // kept until dx is known
			tr := b.theta[j] * b.rhat[j]
			if t := b.period[j]; t >= 0 {
				st.rL[t] += b.sign[j] * tr
			}
			if t2, sign2 := b.second(j); t2 >= 0 {
				st.rL[t2] += sign2 * tr
			}
			for _, e := range b.column[j] {
				b.v[e.row] += e.coef * tr
			}
		}
		if m == 0 {
			continue
		}
		cholSolve(b.chol, m, b.v)
		for t := range T {
			var sum float64
			for r := range m {
				sum += b.maL[r*T+t] * b.v[r]
			}
			st.rL[t] -= sum
		}
	}
	for t := range T {
		if !st.active[t] {
			st.rL[t] = 0
		}
	}
	copy(st.dyL, st.rL)
	cholSolve(st.schur, T, st.dyL)
	for _, b := range st.blocks {
		m := len(b.rhs)
		for r := range m {
			sum := b.v[r]
			for t := range T {
				sum -= b.xs[r*T+t] * st.dyL[t]
			}
			b.dy[r] = sum
		}
		for j := range b.x {
			aty := 0.0
			if t := b.period[j]; t >= 0 {
				aty = b.sign[j] * st.dyL[t]
			}
			if t2, sign2 := b.second(j); t2 >= 0 {
				aty += sign2 * st.dyL[t2]
			}
			for _, e := range b.column[j] {
				aty += e.coef * b.dy[e.row]
			}
			dx := b.theta[j] * (aty - b.rhat[j])
			b.dx[j] = dx
			b.dz[j] = (b.dz[j] - b.z[j]*dx) / b.x[j]
			b.dw[j] = (b.dw[j] + b.w[j]*dx) / b.s[j]
		}
	}
}

// stepLengths returns the largest primal and dual steps that keep x, s, z, w non-negative.
func (st *ipmState) stepLengths() (ap, ad float64) {
	ap, ad = math.Inf(1), math.Inf(1)
	for _, b := range st.blocks {
		for j, dx := range b.dx {
			if dx < 0 {
				ap = math.Min(ap, -b.x[j]/dx)
			} else if dx > 0 {
				ap = math.Min(ap, b.s[j]/dx)
			}
			if b.dz[j] < 0 {
				ad = math.Min(ad, -b.z[j]/b.dz[j])
			}
			if b.dw[j] < 0 {
				ad = math.Min(ad, -b.w[j]/b.dw[j])
			}
		}
	}
	return math.Min(ap, 1), math.Min(ad, 1)
}

func (st *ipmState) muAfter(ap, ad float64) float64 {
	var gap float64
	var n int
	for _, b := range st.blocks {
		for j := range b.x {
			gap += (b.x[j]+ap*b.dx[j])*(b.z[j]+ad*b.dz[j]) + (b.s[j]-ap*b.dx[j])*(b.w[j]+ad*b.dw[j])
			n++
		}
	}
	return gap / float64(2*max(n, 1))
}

func (st *ipmState) move(ap, ad float64) {
	for t := range st.yL {
		st.yL[t] += ad * st.dyL[t]
	}
	for _, b := range st.blocks {
		for j := range b.x {
			b.x[j] += ap * b.dx[j]
			b.s[j] -= ap * b.dx[j]
			b.z[j] += ad * b.dz[j]
			b.w[j] += ad * b.dw[j]
		}
		for r := range b.y {
			b.y[r] += ad * b.dy[r]
		}
	}
}

// cholesky factors the symmetric n×n matrix a (row-major) in place into its lower factor. A tiny
// diagonal shift keeps the factorisation alive when the interior-point method nears a degenerate vertex.
func cholesky(a []float64, n int) bool {
	var maxDiag float64
	for i := range n {
		maxDiag = math.Max(maxDiag, a[i*n+i])
	}
	shift := 1e-14*maxDiag + 1e-300
	for j := range n {
		d := a[j*n+j] + shift
		for k := range j {
			d -= a[j*n+k] * a[j*n+k]
		}
		if !(d > 0) {
			d = shift
			if !(d > 0) {
				return false
			}
		}
		d = math.Sqrt(d)
		a[j*n+j] = d
		for i := j + 1; i < n; i++ {
			s := a[i*n+j]
			for k := range j {
				s -= a[i*n+k] * a[j*n+k]
			}
			a[i*n+j] = s / d
		}
	}
	return true
}

// cholSolve solves L Lᵀ x = b in place.
func cholSolve(l []float64, n int, b []float64) {
	for i := range n {
		s := b[i]
		for k := range i {
			s -= l[i*n+k] * b[k]
		}
		b[i] = s / l[i*n+i]
	}
	for i := n - 1; i >= 0; i-- {
		s := b[i]
		for k := i + 1; k < n; k++ {
			s -= l[k*n+i] * b[k]
		}
		b[i] = s / l[i*n+i]
	}
}
