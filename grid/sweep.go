package grid

import (
	"fmt"
	"math"
	"math/cmplx"
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
// the result is the exact AC power flow, the same one Newton-Raphson finds. The sweep handles PQ buses
// only: a PV bus needs Newton-Raphson.
func sweep(nw *network, tol float64, maxIter int) ([]complex128, int, error) {
	for i, t := range nw.typ {
		if t == PV {
			return nil, 0, fmt.Errorf("grid: the sweep handles PQ buses only; bus %d is PV (use Newton-Raphson)", nw.ids[i])
		}
	}
	tr, err := radialTree(nw)
	if err != nil {
		return nil, 0, fmt.Errorf("grid: the sweep needs a radial network: %w", err)
	}
	v := append([]complex128(nil), nw.v0...)
	drawn := make([]complex128, nw.n) // current flowing from the feeder branch into each bus
	worst := math.Inf(1)
	for it := 1; it <= maxIter; it++ {
		sweepBackward(nw, tr, v, drawn)
		change := sweepForward(nw, tr, v, drawn)
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

func sweepBackward(nw *network, tr *tree, v, drawn []complex128) {
	for i := range drawn {
		// load (negative injection) and shunt currents
		drawn[i] = cmplx.Conj(-nw.sbus[i]/v[i]) + nw.ysh[i]*v[i]
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
