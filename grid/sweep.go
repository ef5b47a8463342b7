package grid

import (
	"fmt"
	"math"
	"math/cmplx"

	"gonum.org/v1/gonum/mat"
)

// tree is a radial network hung from its slack buses: buses in breadth-first order, each with the
// branch that feeds it from its parent.
type tree struct {
	order  []int // breadth-first from the roots
	parent []int // parent bus, -1 at a root
	feeder []int // index in network.br of the branch from the parent, -1 at a root
}

// radialTree returns the network as a tree rooted at its slack buses, or an error saying why the network
// is not radial (a loop, or an island with more than one slack bus).
func radialTree(nw *network) (*tree, error) {
	adj := make([][]int, nw.n)
	for k, b := range nw.br {
		adj[b.f] = append(adj[b.f], k)
		adj[b.t] = append(adj[b.t], k)
	}
	tr := &tree{parent: make([]int, nw.n), feeder: make([]int, nw.n)}
	seen := make([]bool, nw.n)
	for _, isl := range nw.islands() {
		edges := 0
		root := -1
		for _, i := range isl {
			edges += len(adj[i])
			if nw.typ[i] == Ref {
				if root >= 0 {
					return nil, fmt.Errorf("island with slack buses %d and %d is not a single-source radial feeder", nw.ids[root], nw.ids[i])
				}
				root = i
			}
		}
		if edges/2 != len(isl)-1 {
			return nil, fmt.Errorf("island of %d buses has %d branches, so it is meshed, not radial", len(isl), edges/2)
		}
		tr.parent[root], tr.feeder[root] = -1, -1
		seen[root] = true
		start := len(tr.order)
		tr.order = append(tr.order, root)
		for q := start; q < len(tr.order); q++ {
			i := tr.order[q]
			for _, k := range adj[i] {
				b := nw.br[k]
				j := b.t
				if j == i {
					j = b.f
				}
				if seen[j] {
					continue
				}
				seen[j] = true
				tr.parent[j], tr.feeder[j] = i, k
				tr.order = append(tr.order, j)
			}
		}
	}
	return tr, nil
}

// sweepVoltageStep is the largest voltage change (p.u.) between sweeps at which the sweep may stop: the
// sweep converges linearly, so a small step is what makes its voltages as accurate as Newton's.
const sweepVoltageStep = 1e-12

// sweep solves a radial network by backward/forward sweep on branch currents. Backward, from the leaves
// to the root, each bus draws its load and shunt current plus what its children draw through their
// branches' two-port equations; forward, from the root, each child's voltage follows from its parent's
// voltage and the current it draws. At the fixed point the two-port equations hold at every branch, so
// the result is the exact AC power flow, the same one Newton-Raphson finds. PV buses are held at their
// set-points by adjusting their reactive injection after every sweep (PV-node compensation).
func sweep(nw *network, tol float64, maxIter int) ([]complex128, int, error) {
	tr, err := radialTree(nw)
	if err != nil {
		return nil, 0, fmt.Errorf("grid: the sweep needs a radial network: %w", err)
	}
	pv, err := newPVCompensation(nw, tr)
	if err != nil {
		return nil, 0, err
	}
	sbus := append([]complex128(nil), nw.sbus...)
	v := append([]complex128(nil), nw.v0...)
	drawn := make([]complex128, nw.n) // current flowing from the feeder branch into each bus
	worst := math.Inf(1)
	for it := 1; it <= maxIter; it++ {
		sweepBackward(nw, tr, v, sbus, drawn)
		change := sweepForward(nw, tr, v, drawn)
		change = math.Max(change, pv.correct(v, sbus))
		if math.IsNaN(change) || math.IsInf(change, 0) {
			break
		}
		if change < sweepVoltageStep {
			worst = nw.maxMismatch(v, nw.typ, nw.sbus)
			if worst < tol {
				return v, it, nil
			}
		}
	}
	if math.IsInf(worst, 0) {
		worst = nw.maxMismatch(v, nw.typ, nw.sbus)
	}
	return nil, maxIter, &NotConvergedError{Method: Sweep, Iterations: maxIter, Mismatch: worst}
}

// pvCompensation holds PV buses at their voltage set-points during a sweep. A change ΔQ of reactive
// injection at PV bus j raises the voltage at PV bus i by about X_ij·ΔQ / V, where X_ij is the reactance
// of the path the two share back to the slack; so after each sweep the voltage errors ΔV give the
// injection corrections ΔQ = X⁻¹·(V·ΔV). The fixed point is exact: X only steers the iteration.
type pvCompensation struct {
	buses []int
	vset  []float64
	lu    mat.LU
	rhs   *mat.VecDense
	dq    *mat.VecDense
}

func newPVCompensation(nw *network, tr *tree) (*pvCompensation, error) {
	pc := &pvCompensation{}
	for i, t := range nw.typ {
		if t == PV {
			pc.buses = append(pc.buses, i)
			pc.vset = append(pc.vset, cmplx.Abs(nw.v0[i]))
		}
	}
	k := len(pc.buses)
	if k == 0 {
		return pc, nil
	}
	paths := make([]map[int]bool, k) // feeder branches from each PV bus up to its root
	for a, i := range pc.buses {
		paths[a] = map[int]bool{}
		for c := i; tr.parent[c] >= 0; c = tr.parent[c] {
			paths[a][tr.feeder[c]] = true
		}
	}
	x := mat.NewDense(k, k, nil)
	for a := range pc.buses {
		for b := range pc.buses {
			sum := 0.0
			for br := range paths[a] {
				if paths[b][br] {
					sum += imag(1 / nw.br[br].ys)
				}
			}
			x.Set(a, b, sum)
		}
	}
	pc.lu.Factorize(x)
	if c := pc.lu.Cond(); math.IsInf(c, 0) || math.IsNaN(c) || c > 1e12 {
		return nil, fmt.Errorf("grid: the sweep cannot hold PV buses %s: no reactance between them and the slack", nw.idList(pc.buses))
	}
	pc.rhs, pc.dq = mat.NewVecDense(k, nil), mat.NewVecDense(k, nil)
	return pc, nil
}

// correct adjusts the PV buses' reactive injections in sbus and returns the largest voltage error.
func (pc *pvCompensation) correct(v, sbus []complex128) float64 {
	if len(pc.buses) == 0 {
		return 0
	}
	worst := 0.0
	for a, i := range pc.buses {
		vm := cmplx.Abs(v[i])
		dv := pc.vset[a] - vm
		worst = math.Max(worst, math.Abs(dv))
		pc.rhs.SetVec(a, dv*vm)
	}
	if err := pc.lu.SolveVecTo(pc.dq, false, pc.rhs); err != nil {
		return math.NaN()
	}
	for a, i := range pc.buses {
		sbus[i] += complex(0, pc.dq.AtVec(a))
	}
	return worst
}

func sweepBackward(nw *network, tr *tree, v, sbus, drawn []complex128) {
	for i := range drawn {
		// load (negative injection) and shunt currents
		drawn[i] = cmplx.Conj(-sbus[i]/v[i]) + nw.ysh[i]*v[i]
	}
	for q := len(tr.order) - 1; q >= 0; q-- {
		c := tr.order[q]
		p := tr.parent[c]
		if p < 0 {
			continue
		}
		b := nw.br[tr.feeder[c]]
		// current entering the branch at the parent's end
		if b.f == p {
			drawn[p] += b.yff*v[p] + b.yft*v[c]
		} else {
			drawn[p] += b.ytt*v[p] + b.ytf*v[c]
		}
	}
}

// sweepForward updates the voltages from the roots down and returns the largest change.
func sweepForward(nw *network, tr *tree, v, drawn []complex128) float64 {
	change := 0.0
	for _, c := range tr.order {
		p := tr.parent[c]
		if p < 0 {
			continue
		}
		b := nw.br[tr.feeder[c]]
		// the branch current entering at the child's end is −drawn[c]
		var next complex128
		if b.t == c {
			next = (-drawn[c] - b.ytf*v[p]) / b.ytt
		} else {
			next = (-drawn[c] - b.yft*v[p]) / b.yff
		}
		change = math.Max(change, cmplx.Abs(next-v[c]))
		v[c] = next
	}
	return change
}
