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

// sweep solves a radial network by backward/forward sweep on branch currents. Backward, from the leaves
// to the root, each bus draws its load and shunt current plus what its children draw; the current a
// branch takes from its parent follows from the current it delivers to its child by the branch's
// two-port equations, so Kirchhoff's current law holds exactly at every bus. Forward, from the root,
// each child's voltage follows from its parent's voltage and the current it draws. At the fixed point
// the two-port equations hold at every branch, so the result is the exact AC power flow, the same one
// Newton-Raphson finds.
//
// It stops on Newton-Raphson's criterion: the largest power mismatch (P at PV and PQ buses, Q at PQ
// buses) below tol, and in addition every PV bus within tol of its voltage set-point (Newton holds
// those exactly). PV buses are held at their set-points by adjusting their reactive injection after
// every sweep (PV-node compensation). Divergence (a mismatch beyond sweepDivergence, or a non-finite
// one) stops it at once with a *NotConvergedError, so a caller can fall back to Newton-Raphson cheaply.
func sweep(nw *network, tol float64, maxIter int) ([]complex128, int, error) {
	tr, err := radialTree(nw)
	if err != nil {
		return nil, 0, fmt.Errorf("grid: the sweep needs a radial network: %w", err)
	}
	pv, err := newPVCompensation(nw, tr)
	if err != nil {
		return nil, 0, err
	}
	transfer := newBranchTransfers(nw, tr)
	sbus := append([]complex128(nil), nw.sbus...)
	v := append([]complex128(nil), nw.v0...)
	drawn := make([]complex128, nw.n) // current flowing from the feeder branch into each bus
	cur := make([]complex128, nw.n)
	worst := math.Inf(1)
	for it := 1; it <= maxIter; it++ {
		sweepBackward(nw, tr, transfer, v, sbus, drawn)
		sweepForward(tr, transfer, v, drawn)
		// The PV buses' share of the mismatch is the reactive injection they still need to reach their
		// set-points, which is what the compensation computes.
		worst = math.Max(nw.mismatchInto(v, cur), pv.needed(v))
		if !isFinite(worst) || worst > sweepDivergence {
			return nil, it, &NotConvergedError{Method: Sweep, Iterations: it, Mismatch: worst}
		}
		if worst < tol {
			return v, it, nil
		}
		pv.correct(v, sbus)
	}
	return nil, maxIter, &NotConvergedError{Method: Sweep, Iterations: maxIter, Mismatch: worst}
}

// sweepDivergence is the mismatch (p.u.) beyond which the sweep is taken to diverge: going on would only
// reach infinities.
const sweepDivergence = 1e6

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// branchTransfer is a feeder branch's two-port solved for the sweep. With I_c the current the branch
// delivers into its child bus, the current it takes from its parent is I_p = a·I_c + b·V_c (backward),
// and the child's voltage is V_c = (−I_c − yCP·V_p) / yCC (forward).
type branchTransfer struct {
	a, b     complex128
	yCP, yCC complex128
}

// newBranchTransfers prepares the transfer equations of every feeder branch, indexed by child bus.
func newBranchTransfers(nw *network, tr *tree) []branchTransfer {
	out := make([]branchTransfer, nw.n)
	for c, k := range tr.feeder {
		if k < 0 {
			continue
		}
		b := nw.br[k]
		// The two-port seen from parent p and child c: I_p = yPP·V_p + yPC·V_c is the current entering at
		// the parent's end, −I_c = yCP·V_p + yCC·V_c the current entering at the child's end.
		yPP, yPC, yCP, yCC := b.yff, b.yft, b.ytf, b.ytt
		if b.f == c {
			yPP, yPC, yCP, yCC = b.ytt, b.ytf, b.yft, b.yff
		}
		// V_p = (−I_c − yCC·V_c) / yCP, hence I_p = −(yPP/yCP)·I_c + (yPC − yPP·yCC/yCP)·V_c.
		out[c] = branchTransfer{a: -yPP / yCP, b: yPC - yPP*yCC/yCP, yCP: yCP, yCC: yCC}
	}
	return out
}

// sweepBackward sums the currents from the leaves to the roots: drawn[i] becomes the current bus i takes
// from its feeder branch (its load and shunt currents plus what its children's branches take from it).
func sweepBackward(nw *network, tr *tree, transfer []branchTransfer, v, sbus, drawn []complex128) {
	for i := range drawn {
		drawn[i] = cmplx.Conj(-sbus[i]/v[i]) + nw.ysh[i]*v[i]
	}
	for q := len(tr.order) - 1; q >= 0; q-- {
		c := tr.order[q]
		if p := tr.parent[c]; p >= 0 {
			t := transfer[c]
			drawn[p] += t.a*drawn[c] + t.b*v[c]
		}
	}
}

// sweepForward updates the voltages from the roots down.
func sweepForward(tr *tree, transfer []branchTransfer, v, drawn []complex128) {
	for _, c := range tr.order {
		if p := tr.parent[c]; p >= 0 {
			t := transfer[c]
			v[c] = (-drawn[c] - t.yCP*v[p]) / t.yCC
		}
	}
}

// pvCompensation holds PV buses at their voltage set-points during a sweep. A reactive injection ΔQ_j
// at PV bus j injects the current ΔI_j = −j·ΔQ_j·u_j/|V_j| (u_j = V_j/|V_j|), which raises the voltage
// at bus i by Z_ij·ΔI_j, where Z_ij is the impedance of the path the two share back to their root; the
// magnitude |V_i| moves by the projection of that on u_i. So after each sweep the voltage errors ΔV give
// the injection corrections ΔQ = S⁻¹·ΔV with S_ij = Re(conj(u_i)·Z_ij·(−j)·u_j)/|V_j|, rebuilt at the
// present angles (on feeders with R ≥ X the angles matter). The fixed point is exact: S only steers.
// A correction that makes the worst voltage error grow is halved next time (damping), so a poor
// estimate (transformer taps are left out of Z) slows the iteration instead of throwing it off.
type pvCompensation struct {
	buses []int
	vset  []float64
	z     []complex128 // k×k shared-path impedances, row-major
	s     *mat.Dense
	lu    mat.LU
	rhs   *mat.VecDense
	dq    *mat.VecDense
	gain  float64 // damping factor applied to the next correction
	last  float64 // worst voltage error at the previous correction
}

// minPVGain bounds the damping: below it the sweep gives up on the PV buses at maxIter.
const minPVGain = 1.0 / 64

func newPVCompensation(nw *network, tr *tree) (*pvCompensation, error) {
	pc := &pvCompensation{gain: 1, last: math.Inf(1)}
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
	pc.z = make([]complex128, k*k)
	for a := range pc.buses {
		for b := range pc.buses {
			var sum complex128
			for br := range paths[a] {
				if paths[b][br] {
					sum += 1 / nw.br[br].ys
				}
			}
			pc.z[a*k+b] = sum
		}
	}
	pc.s = mat.NewDense(k, k, nil)
	pc.rhs, pc.dq = mat.NewVecDense(k, nil), mat.NewVecDense(k, nil)
	if !pc.factor(nw.v0) {
		return nil, fmt.Errorf("grid: the sweep cannot hold PV buses %s: no reactance between them and the slack", nw.idList(pc.buses))
	}
	return pc, nil
}

// factor builds and factorises the sensitivity S at voltages v; false if it is singular.
func (pc *pvCompensation) factor(v []complex128) bool {
	k := len(pc.buses)
	for a, i := range pc.buses {
		ui := v[i] / complex(cmplx.Abs(v[i]), 0)
		for b, j := range pc.buses {
			vj := cmplx.Abs(v[j])
			uj := v[j] / complex(vj, 0)
			pc.s.Set(a, b, real(cmplx.Conj(ui)*pc.z[a*k+b]*complex(0, -1)*uj)/vj)
		}
	}
	pc.lu.Factorize(pc.s)
	c := pc.lu.Cond()
	return isFinite(c) && c < 1e12
}

// needed computes the reactive injections ΔQ = S⁻¹·ΔV that would bring the PV buses to their set-points
// at the present voltages, keeps them for correct, and returns the largest magnitude (p.u.): the PV
// buses' power mismatch. It is +Inf when the sensitivity is singular at the present angles.
func (pc *pvCompensation) needed(v []complex128) float64 {
	if len(pc.buses) == 0 {
		return 0
	}
	if !pc.factor(v) {
		return math.Inf(1)
	}
	for a, i := range pc.buses {
		pc.rhs.SetVec(a, pc.vset[a]-cmplx.Abs(v[i]))
	}
	if err := pc.lu.SolveVecTo(pc.dq, false, pc.rhs); err != nil {
		return math.Inf(1)
	}
	worst := 0.0
	for a := range pc.buses {
		worst = math.Max(worst, math.Abs(pc.dq.AtVec(a)))
	}
	return worst
}

// correct adds the injections computed by needed to the PV buses in sbus, damped when the previous
// correction made the largest voltage error grow.
func (pc *pvCompensation) correct(v, sbus []complex128) {
	if len(pc.buses) == 0 {
		return
	}
	worst := 0.0
	for a, i := range pc.buses {
		worst = math.Max(worst, math.Abs(pc.vset[a]-cmplx.Abs(v[i])))
	}
	if worst > pc.last {
		pc.gain = math.Max(pc.gain/2, minPVGain)
	}
	pc.last = worst
	for a, i := range pc.buses {
		sbus[i] += complex(0, pc.gain*pc.dq.AtVec(a))
	}
}
