package grid

import (
	"errors"
	"fmt"
	"math"
	"math/cmplx"
)

// NotConvergedError says a power flow did not converge: no voltages are returned with it.
type NotConvergedError struct {
	Method     Method
	Iterations int
	Mismatch   float64 // largest remaining power mismatch, p.u.
}

func (e *NotConvergedError) Error() string {
	return fmt.Sprintf("grid: %s power flow did not converge in %d iterations (largest mismatch %.3g p.u.)", e.Method, e.Iterations, e.Mismatch)
}

// maxNewtonUnknowns bounds the Jacobian the Newton solver stores densely (about 2000 buses).
const maxNewtonUnknowns = 4000

// unknowns maps the Newton-Raphson state to bus quantities: the angle of every non-slack bus and the
// magnitude of every PQ bus. Positions follow a fill-reducing order of the buses, and a bus's angle and
// magnitude sit next to each other, so the Jacobian's 2×2 bus blocks lie on the diagonal.
type unknowns struct {
	theta []int // position of the angle of bus i, or -1
	vm    []int // position of the magnitude of bus i, or -1
	size  int
}

func newUnknowns(nw *network, typ []BusType) unknowns {
	u := unknowns{theta: make([]int, nw.n), vm: make([]int, nw.n)}
	for i := range u.theta {
		u.theta[i], u.vm[i] = -1, -1
	}
	for _, i := range minimumDegreeOrder(nw, typ) {
		u.theta[i] = u.size
		u.size++
		if typ[i] == PQ {
			u.vm[i] = u.size
			u.size++
		}
	}
	return u
}

// newtonState carries the work arrays of one Newton-Raphson solve, reused across iterations.
type newtonState struct {
	nw   *network
	typ  []BusType
	sbus []complex128
	u    unknowns
	v    []complex128
	vm   []float64
	va   []float64
	cur  []complex128
	f    []float64
	jac  *sparseLU
}

// newton solves the power flow in polar coordinates from the initial voltages v0, as MATPOWER's newtonpf:
// the mismatch F(x) = [ΔP(pv,pq); ΔQ(pq)] is driven to below tol by x ← x − J⁻¹F.
func newton(nw *network, typ []BusType, sbus, v0 []complex128, tol float64, maxIter int) ([]complex128, int, error) {
	size := 0
	for _, t := range typ {
		switch t {
		case PQ:
			size += 2
		case PV:
			size++
		}
	}
	if size > maxNewtonUnknowns { // checked before ordering, which is quadratic in the bus count
		return nil, 0, fmt.Errorf("grid: Newton-Raphson handles at most %d unknowns, case %s has %d", maxNewtonUnknowns, nw.c.Name, size)
	}
	st := &newtonState{nw: nw, typ: typ, sbus: sbus, u: newUnknowns(nw, typ)}
	st.v = append([]complex128(nil), v0...)
	st.vm = make([]float64, nw.n)
	st.va = make([]float64, nw.n)
	for i, x := range st.v {
		st.vm[i], st.va[i] = cmplx.Abs(x), cmplx.Phase(x)
	}
	st.cur = make([]complex128, nw.n)
	st.f = make([]float64, st.u.size)
	st.jac = newSparseLU(st.u.size)
	worst := st.mismatch()
	for it := 0; it < maxIter; it++ {
		if worst < tol {
			return st.v, it, nil
		}
		st.jacobian()
		err := st.jac.factor()
		if errors.Is(err, errNeedPivoting) {
			st.jacobian()
			err = st.jac.factorPivoting()
		}
		if err != nil {
			return nil, it, fmt.Errorf("grid: Newton-Raphson iteration %d: %w", it+1, err)
		}
		st.jac.solve(st.f)
		st.update()
		worst = st.mismatch()
		if math.IsNaN(worst) || math.IsInf(worst, 0) {
			return nil, it + 1, &NotConvergedError{Method: NewtonRaphson, Iterations: it + 1, Mismatch: worst}
		}
	}
	if worst < tol {
		return st.v, maxIter, nil
	}
	return nil, maxIter, &NotConvergedError{Method: NewtonRaphson, Iterations: maxIter, Mismatch: worst}
}

// mismatch fills st.f with S(V) − Sspec and returns its largest magnitude.
func (st *newtonState) mismatch() float64 {
	st.nw.currents(st.v, st.cur)
	worst := 0.0
	for i, x := range st.v {
		d := x*cmplx.Conj(st.cur[i]) - st.sbus[i]
		if p := st.u.theta[i]; p >= 0 {
			st.f[p] = real(d)
			worst = math.Max(worst, math.Abs(real(d)))
		}
		if q := st.u.vm[i]; q >= 0 {
			st.f[q] = imag(d)
			worst = math.Max(worst, math.Abs(imag(d)))
		}
	}
	return worst
}

// jacobian writes ∂S/∂θ and ∂S/∂|V| (real parts in P rows, imaginary parts in Q rows) into the LU's
// matrix. With I = Ybus·V:
//
//	∂S_i/∂θ_k  = −j·V_i·conj(Y_ik·V_k)            (k ≠ i),  ∂S_i/∂θ_i  = j·V_i·conj(I_i − Y_ii·V_i)
//	∂S_i/∂|V_k| = V_i·conj(Y_ik·V_k/|V_k|)          (k ≠ i),  ∂S_i/∂|V_i| = V_i·conj(Y_ii·V_i/|V_i|) + conj(I_i)·V_i/|V_i|
func (st *newtonState) jacobian() {
	nw, a := st.nw, st.jac
	a.clear()
	for i := 0; i < nw.n; i++ {
		rp, rq := st.u.theta[i], st.u.vm[i]
		if rp < 0 && rq < 0 {
			continue
		}
		vi := st.v[i]
		for k := nw.yStart[i]; k < nw.yStart[i+1]; k++ {
			j, y := nw.yCol[k], nw.yVal[k]
			yv := y * st.v[j]
			unit := st.v[j] / complex(st.vm[j], 0)
			var dth, dvm complex128
			if j == i {
				dth = complex(0, 1) * vi * cmplx.Conj(st.cur[i]-yv)
				dvm = vi*cmplx.Conj(y*unit) + cmplx.Conj(st.cur[i])*unit
			} else {
				dth = complex(0, -1) * vi * cmplx.Conj(yv)
				dvm = vi * cmplx.Conj(y*unit)
			}
			st.put(rp, rq, st.u.theta[j], dth)
			st.put(rp, rq, st.u.vm[j], dvm)
		}
	}
}

func (st *newtonState) put(rp, rq, col int, d complex128) {
	if col < 0 {
		return
	}
	if rp >= 0 {
		st.jac.set(rp, col, real(d))
	}
	if rq >= 0 {
		st.jac.set(rq, col, imag(d))
	}
}

// update applies x ← x − dx, where st.f now holds dx = J⁻¹F.
func (st *newtonState) update() {
	for i := range st.v {
		if p := st.u.theta[i]; p >= 0 {
			st.va[i] -= st.f[p]
		}
		if q := st.u.vm[i]; q >= 0 {
			st.vm[i] -= st.f[q]
		}
		st.v[i] = cmplx.Rect(st.vm[i], st.va[i])
	}
}
