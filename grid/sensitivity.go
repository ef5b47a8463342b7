package grid

import (
	"fmt"
	"math"
	"math/cmplx"

	"gonum.org/v1/gonum/mat"
)

// Sensitivities linearise a solved power flow: how bus voltages and branch flows move when the active or
// reactive injection at a bus changes a little (the slack buses absorbing the difference). They come from
// the inverse of the Newton-Raphson Jacobian at the solution, so they hold exactly for small changes
// and include losses, taps and the PV buses' voltage control. Injections are generation minus load, so a
// load increase is a negative injection.
//
// Rows of the bus matrices follow Buses, rows of the branch matrices follow Branches, columns follow
// Buses. Injections at slack buses, and reactive injections at PV buses (their generators absorb them),
// have zero columns.
type Sensitivities struct {
	Buses    []int    // bus IDs, as in Result.Buses
	Branches [][2]int // from and to bus of each branch, as in Result.Branches
	// Voltage magnitude (p.u.) and angle (degrees) change per MW or MVAr injected.
	DVmDP, DVmDQ *mat.Dense
	DVaDP, DVaDQ *mat.Dense
	// Active and reactive power entering each branch at its from end, MW or MVAr per MW or MVAr injected.
	DPfDP, DPfDQ *mat.Dense
	DQfDP, DQfDQ *mat.Dense
}

// Sensitivities returns the linearisation of r around its solved state.
func (r *Result) Sensitivities() (*Sensitivities, error) {
	nw := r.nw
	if nw == nil {
		return nil, fmt.Errorf("grid: sensitivities need a result returned by Solve")
	}
	// the bus types at the solution: a PV bus held at a reactive limit is a PQ bus there, and its
	// voltage moves with injections like any load bus
	typ := r.typ
	if typ == nil {
		typ = nw.typ
	}
	st := &newtonState{nw: nw, typ: typ, sbus: nw.sbus, u: newUnknowns(nw, typ)}
	st.v = r.v
	st.vm, st.va = make([]float64, nw.n), make([]float64, nw.n)
	for i, x := range st.v {
		st.vm[i], st.va[i] = cmplx.Abs(x), cmplx.Phase(x)
	}
	st.cur = make([]complex128, nw.n)
	nw.currents(st.v, st.cur)
	st.jac = newSparseLU(st.u.size)
	st.jacobian()
	size := st.u.size
	var inv mat.Dense
	if size > 0 {
		if err := inv.Inverse(mat.NewDense(size, size, st.jac.a)); err != nil {
			return nil, fmt.Errorf("grid: Jacobian at the solution is singular: %w", err)
		}
	}
	s := &Sensitivities{Buses: append([]int(nil), nw.ids...)}
	n, base := nw.n, nw.c.BaseMVA
	s.DVmDP, s.DVmDQ = mat.NewDense(n, n, nil), mat.NewDense(n, n, nil)
	s.DVaDP, s.DVaDQ = mat.NewDense(n, n, nil), mat.NewDense(n, n, nil)
	// dx/dy for one injection column: the column of J⁻¹ at the injection's equation
	column := func(eq int) []float64 {
		col := make([]float64, size)
		if eq >= 0 {
			mat.Col(col, eq, &inv)
		}
		return col
	}
	dxP := make([][]float64, n)
	dxQ := make([][]float64, n)
	for k := 0; k < n; k++ {
		dxP[k], dxQ[k] = column(st.u.theta[k]), column(st.u.vm[k])
		for i := 0; i < n; i++ {
			if p := st.u.theta[i]; p >= 0 {
				s.DVaDP.Set(i, k, dxP[k][p]*180/math.Pi/base)
				s.DVaDQ.Set(i, k, dxQ[k][p]*180/math.Pi/base)
			}
			if q := st.u.vm[i]; q >= 0 {
				s.DVmDP.Set(i, k, dxP[k][q]/base)
				s.DVmDQ.Set(i, k, dxQ[k][q]/base)
			}
		}
	}
	s.branchSensitivities(st, dxP, dxQ)
	return s, nil
}

// branchSensitivities chains ∂Sf/∂x (from Sf = |Vf|²·conj(yff) + Vf·conj(yft·Vt)) with dx/dy.
func (s *Sensitivities) branchSensitivities(st *newtonState, dxP, dxQ [][]float64) {
	nw := st.nw
	m, n := len(nw.br), nw.n
	s.DPfDP, s.DPfDQ = mat.NewDense(m, n, nil), mat.NewDense(m, n, nil)
	s.DQfDP, s.DQfDQ = mat.NewDense(m, n, nil), mat.NewDense(m, n, nil)
	for l, b := range nw.br {
		br := nw.c.Branches[b.src]
		s.Branches = append(s.Branches, [2]int{br.From, br.To})
		vf, vt := st.v[b.f], st.v[b.t]
		cross := vf * cmplx.Conj(b.yft*vt)
		type partial struct {
			pos int
			d   complex128
		}
		parts := []partial{
			{st.u.theta[b.f], complex(0, 1) * cross},
			{st.u.theta[b.t], complex(0, -1) * cross},
			{st.u.vm[b.f], 2*complex(st.vm[b.f], 0)*cmplx.Conj(b.yff) + cross/complex(st.vm[b.f], 0)},
			{st.u.vm[b.t], cross / complex(st.vm[b.t], 0)},
		}
		for k := 0; k < n; k++ {
			var dP, dQ complex128 // dSf per p.u. of P and of Q injected at k, in p.u.
			for _, p := range parts {
				if p.pos < 0 {
					continue
				}
				dP += p.d * complex(dxP[k][p.pos], 0)
				dQ += p.d * complex(dxQ[k][p.pos], 0)
			}
			s.DPfDP.Set(l, k, real(dP))
			s.DQfDP.Set(l, k, imag(dP))
			s.DPfDQ.Set(l, k, real(dQ))
			s.DQfDQ.Set(l, k, imag(dQ))
		}
	}
}
