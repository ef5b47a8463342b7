package grid

import (
	"fmt"
	"math"
	"math/cmplx"
	"sort"
	"strings"
)

// network is a Case prepared for power flow: in-service buses numbered 0..n-1, per-unit injections,
// branch admittances and the bus admittance matrix in compressed sparse rows.
type network struct {
	c       *Case
	n       int
	ids     []int        // bus ID of each internal bus
	caseBus []int        // index in c.Buses of each internal bus
	typ     []BusType    // effective type: a PV bus without an in-service generator is PQ
	sbus    []complex128 // specified injection (generation - load), p.u.
	v0      []complex128 // initial voltages (generator set-points at PV and slack buses)
	ysh     []complex128 // bus shunt admittance, p.u.
	qmax    []float64    // sum of generator reactive limits at the bus, p.u. (for the optional limits)
	qmin    []float64
	br      []netBranch
	yStart  []int // CSR row starts of Ybus
	yCol    []int
	yVal    []complex128
}

// netBranch holds the two-port admittances of a branch in MATPOWER's model: a pi line with an ideal
// phase-shifting transformer (ratio tap) on the from side.
type netBranch struct {
	f, t               int // internal bus indices
	src                int // index in Case.Branches
	ys                 complex128
	tap                complex128
	yff, yft, ytf, ytt complex128
}

// newNetwork checks the case and prepares it. Every island (connected set of in-service buses) must
// hold a slack bus with an in-service generator.
func newNetwork(c *Case) (*network, error) {
	if c == nil || len(c.Buses) == 0 {
		return nil, fmt.Errorf("grid: case has no buses")
	}
	if !(c.BaseMVA > 0) {
		return nil, fmt.Errorf("grid: case %s: baseMVA %v must be positive", c.Name, c.BaseMVA)
	}
	nw := &network{c: c}
	internal := make(map[int]int, len(c.Buses))
	for i, b := range c.Buses {
		if b.Type == Isolated {
			continue
		}
		internal[b.ID] = nw.n
		nw.ids = append(nw.ids, b.ID)
		nw.caseBus = append(nw.caseBus, i)
		nw.n++
	}
	if nw.n == 0 {
		return nil, fmt.Errorf("grid: case %s: every bus is isolated", c.Name)
	}
	nw.setInjections(internal)
	if err := nw.setBranches(internal); err != nil {
		return nil, err
	}
	if err := nw.checkIslands(); err != nil {
		return nil, err
	}
	nw.buildYbus()
	return nw, nil
}

func (nw *network) setInjections(internal map[int]int) {
	c, base := nw.c, nw.c.BaseMVA
	nw.typ = make([]BusType, nw.n)
	nw.sbus = make([]complex128, nw.n)
	nw.v0 = make([]complex128, nw.n)
	nw.ysh = make([]complex128, nw.n)
	nw.qmax = make([]float64, nw.n)
	nw.qmin = make([]float64, nw.n)
	vm := make([]float64, nw.n)
	for i, cb := range nw.caseBus {
		b := c.Buses[cb]
		nw.typ[i] = b.Type
		nw.sbus[i] = complex(-b.Pd/base, -b.Qd/base)
		nw.ysh[i] = complex(b.Gs/base, b.Bs/base)
		vm[i] = b.Vm
	}
	hasGen := make([]bool, nw.n)
	for _, g := range c.Gens {
		i, ok := internal[g.Bus]
		if !ok || !g.InService {
			continue
		}
		nw.sbus[i] += complex(g.Pg/base, g.Qg/base)
		nw.qmax[i] += g.Qmax / base
		nw.qmin[i] += g.Qmin / base
		// MATPOWER sets V0(gbus) = gen(on, VG) in one indexed assignment, so with several in-service
		// generators at a bus the last one's set-point wins; so here.
		vm[i] = g.Vg
		hasGen[i] = true
	}
	for i := range nw.typ {
		if nw.typ[i] == PV && !hasGen[i] {
			nw.typ[i] = PQ
		}
		va := c.Buses[nw.caseBus[i]].Va * math.Pi / 180
		nw.v0[i] = cmplx.Rect(vm[i], va)
	}
}

func (nw *network) setBranches(internal map[int]int) error {
	for k, br := range nw.c.Branches {
		f, okf := internal[br.From]
		t, okt := internal[br.To]
		if !okf || !okt {
			continue // a branch to an isolated bus carries nothing
		}
		z := complex(br.R, br.X)
		if z == 0 {
			return fmt.Errorf("grid: case %s: branch %d-%d has zero impedance", nw.c.Name, br.From, br.To)
		}
		ys := 1 / z
		tap := cmplx.Rect(br.Tap(), br.ShiftDeg*math.Pi/180)
		ytt := ys + complex(0, br.B/2)
		nb := netBranch{f: f, t: t, src: k, ys: ys, tap: tap,
			ytt: ytt,
			yff: ytt / (tap * cmplx.Conj(tap)),
			yft: -ys / cmplx.Conj(tap),
			ytf: -ys / tap,
		}
		nw.br = append(nw.br, nb)
	}
	return nil
}

// islands returns the connected components of the in-service network, each as sorted bus indices.
func (nw *network) islands() [][]int {
	parent := make([]int, nw.n)
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for _, b := range nw.br {
		parent[find(b.f)] = find(b.t)
	}
	groups := map[int][]int{}
	var roots []int
	for i := 0; i < nw.n; i++ {
		r := find(i)
		if _, ok := groups[r]; !ok {
			roots = append(roots, r)
		}
		groups[r] = append(groups[r], i)
	}
	out := make([][]int, 0, len(roots))
	for _, r := range roots {
		out = append(out, groups[r])
	}
	return out
}

// checkIslands refuses an island without a slack bus: its angle reference and power balance would be
// undefined, and a solver would return numbers that mean nothing.
func (nw *network) checkIslands() error {
	genAt := make([]bool, nw.n)
	internal := map[int]int{}
	for i, id := range nw.ids {
		internal[id] = i
	}
	for _, g := range nw.c.Gens {
		if i, ok := internal[g.Bus]; ok && g.InService {
			genAt[i] = true
		}
	}
	for _, isl := range nw.islands() {
		slack := false
		for _, i := range isl {
			if nw.typ[i] == Ref {
				if !genAt[i] {
					return fmt.Errorf("grid: case %s: slack bus %d has no in-service generator", nw.c.Name, nw.ids[i])
				}
				slack = true
			}
		}
		if !slack {
			return fmt.Errorf("grid: case %s: island of %d bus(es) without a slack bus: %s", nw.c.Name, len(isl), nw.idList(isl))
		}
	}
	return nil
}

func (nw *network) idList(buses []int) string {
	const show = 10
	var parts []string
	for k, i := range buses {
		if k == show {
			parts = append(parts, fmt.Sprintf("... (%d more)", len(buses)-show))
			break
		}
		parts = append(parts, fmt.Sprint(nw.ids[i]))
	}
	return strings.Join(parts, " ")
}

// buildYbus assembles the bus admittance matrix in compressed sparse rows, columns sorted.
func (nw *network) buildYbus() {
	rows := make([]map[int]complex128, nw.n)
	for i := range rows {
		rows[i] = map[int]complex128{i: nw.ysh[i]}
	}
	for _, b := range nw.br {
		rows[b.f][b.f] += b.yff
		rows[b.f][b.t] += b.yft
		rows[b.t][b.f] += b.ytf
		rows[b.t][b.t] += b.ytt
	}
	nw.yStart = make([]int, nw.n+1)
	for i, r := range rows {
		cols := make([]int, 0, len(r))
		for j := range r {
			cols = append(cols, j)
		}
		sort.Ints(cols)
		for _, j := range cols {
			nw.yCol = append(nw.yCol, j)
			nw.yVal = append(nw.yVal, r[j])
		}
		nw.yStart[i+1] = len(nw.yCol)
	}
}

// currents returns Ybus·v.
func (nw *network) currents(v, out []complex128) {
	for i := 0; i < nw.n; i++ {
		var s complex128
		for k := nw.yStart[i]; k < nw.yStart[i+1]; k++ {
			s += nw.yVal[k] * v[nw.yCol[k]]
		}
		out[i] = s
	}
}

// injections returns the complex power injected by the network equations at each bus, V·conj(Ybus·V).
func (nw *network) injections(v []complex128) []complex128 {
	cur := make([]complex128, nw.n)
	nw.currents(v, cur)
	s := make([]complex128, nw.n)
	for i := range s {
		s[i] = v[i] * cmplx.Conj(cur[i])
	}
	return s
}

// maxMismatch is the largest power mismatch (p.u.) over the equations the power flow enforces: P at
// PV and PQ buses, Q at PQ buses.
func (nw *network) maxMismatch(v []complex128, typ []BusType, sbus []complex128) float64 {
	s := nw.injections(v)
	worst := 0.0
	for i := range s {
		if typ[i] == Ref {
			continue
		}
		d := s[i] - sbus[i]
		worst = math.Max(worst, math.Abs(real(d)))
		if typ[i] == PQ {
			worst = math.Max(worst, math.Abs(imag(d)))
		}
	}
	return worst
}

// mismatchInto is maxMismatch against the case's own bus types and injections, with the caller's work
// buffer for Ybus·v, so an iteration that checks it every step allocates nothing. NaN is returned as NaN.
func (nw *network) mismatchInto(v, cur []complex128) float64 {
	nw.currents(v, cur)
	worst := 0.0
	for i, x := range v {
		if nw.typ[i] == Ref {
			continue
		}
		d := x*cmplx.Conj(cur[i]) - nw.sbus[i]
		if math.IsNaN(real(d)) || math.IsNaN(imag(d)) {
			return math.NaN()
		}
		worst = math.Max(worst, math.Abs(real(d)))
		if nw.typ[i] == PQ {
			worst = math.Max(worst, math.Abs(imag(d)))
		}
	}
	return worst
}
