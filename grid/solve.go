package grid

import (
	"fmt"
	"math"
	"math/cmplx"
)

// Method selects the power-flow algorithm.
type Method int

// Power-flow methods.
const (
	Auto          Method = iota // the sweep for radial networks (Newton-Raphson if it fails), Newton-Raphson otherwise
	NewtonRaphson               // full AC Newton-Raphson in polar coordinates
	Sweep                       // backward/forward sweep (radial networks only)
)

func (m Method) String() string {
	switch m {
	case Auto:
		return "auto"
	case NewtonRaphson:
		return "nr"
	case Sweep:
		return "sweep"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// ParseMethod reads "auto", "nr" or "sweep".
func ParseMethod(s string) (Method, error) {
	for _, m := range []Method{Auto, NewtonRaphson, Sweep} {
		if m.String() == s {
			return m, nil
		}
	}
	return Auto, fmt.Errorf("method %q: accepted auto, nr, sweep", s)
}

// Options tune Solve. The zero value is the default.
type Options struct {
	Method Method
	// Tolerance is the largest power mismatch accepted at any bus, p.u.; 0 means 1e-8, MATPOWER's
	// default. Both methods stop on it; for the sweep the mismatch at a PV bus is the reactive
	// injection it would still need to reach its voltage set-point.
	Tolerance float64
	// MaxIterations bounds Newton iterations (0 means 20) and sweep iterations (0 means 1000).
	MaxIterations int
	// EnforceQLimits turns PV buses whose generators exceed their reactive limits into PQ buses at the
	// limit and solves again, as MATPOWER's pf.enforce_q_lims = 1. Off by default, as in MATPOWER.
	EnforceQLimits bool
}

// BusResult is the solved state of one bus.
type BusResult struct {
	ID     int
	Vm     float64 // p.u.
	VaDeg  float64 // degrees
	Pg, Qg float64 // net generation at the bus, MW and MVAr
	Pd, Qd float64 // load, MW and MVAr
}

// BranchResult is the power entering a branch at each end, MW and MVAr.
type BranchResult struct {
	From, To     int
	PFrom, QFrom float64
	PTo, QTo     float64
	LossMW       float64 // series I²R loss
	LossMVAr     float64 // series I²X loss
}

// Result is a converged power flow. A power flow that does not converge returns an error instead.
type Result struct {
	Case       string
	Method     Method // the method that ran (never Auto)
	Iterations int
	BaseMVA    float64
	Buses      []BusResult // in the case's bus order, isolated buses left out
	Branches   []BranchResult
	// LossesMW and LossesMVAr are the series losses summed over branches (I²R and I²X, MATPOWER's
	// "Total losses"); ChargingMVAr is the reactive power the line charging injects.
	LossesMW, LossesMVAr, ChargingMVAr float64
	// MaxMismatch is the largest power-balance error at any bus, p.u.
	MaxMismatch float64
	// QLimited lists PV buses that were held at a reactive limit (EnforceQLimits only).
	QLimited []int
	// SweepFailure says why Auto abandoned the sweep for Newton-Raphson on a radial network ("" when it
	// did not): Method then reports nr.
	SweepFailure string

	v   []complex128 // solved voltages by internal index
	nw  *network
	typ []BusType // bus types at the solution (PV buses held at a reactive limit are PQ)
}

func (o Options) withDefaults() Options {
	if o.Tolerance <= 0 {
		o.Tolerance = 1e-8
	}
	return o
}

// CaseError says the case itself cannot be solved, whatever the method: no buses, a non-positive base,
// a zero-impedance branch, an island without a slack bus, a slack bus without a generator. It is bad
// input, unlike a *NotConvergedError.
type CaseError struct{ Err error }

func (e *CaseError) Error() string { return e.Err.Error() }
func (e *CaseError) Unwrap() error { return e.Err }

// Solve runs a power flow on c.
func Solve(c *Case, opt Options) (*Result, error) {
	opt = opt.withDefaults()
	nw, err := newNetwork(c)
	if err != nil {
		return nil, &CaseError{Err: err}
	}
	if opt.Method == Auto {
		return solveAuto(nw, opt)
	}
	if opt.Method == Sweep && opt.EnforceQLimits {
		return nil, fmt.Errorf("grid: reactive limits are enforced by Newton-Raphson only; use method nr or auto")
	}
	switch opt.Method {
	case Sweep:
		v, iters, err := sweep(nw, opt.Tolerance, sweepMaxIterations(opt))
		if err != nil {
			return nil, err
		}
		return nw.result(v, Sweep, iters, nil), nil
	case NewtonRaphson:
		return solveNewtonResult(nw, opt)
	}
	return nil, fmt.Errorf("grid: unknown method %v", opt.Method)
}

func sweepMaxIterations(opt Options) int {
	if opt.MaxIterations > 0 {
		return opt.MaxIterations
	}
	return 1000
}

// solveAuto runs the sweep on a radial network and falls back to Newton-Raphson when the sweep fails
// (it converges linearly and its PV compensation only estimates the reactive sensitivity, so a feeder
// Newton solves may still defeat it); meshed networks and reactive limits go to Newton-Raphson directly.
// The result names the method that produced it.
func solveAuto(nw *network, opt Options) (*Result, error) {
	failure := ""
	if !opt.EnforceQLimits && isRadial(nw) {
		v, iters, err := sweep(nw, opt.Tolerance, sweepMaxIterations(opt))
		if err == nil {
			return nw.result(v, Sweep, iters, nil), nil
		}
		failure = err.Error()
	}
	r, err := solveNewtonResult(nw, opt)
	if err != nil {
		if failure != "" {
			return nil, fmt.Errorf("%w (after the sweep failed: %s)", err, failure)
		}
		return nil, err
	}
	r.SweepFailure = failure
	return r, nil
}

// solveNewtonResult runs solveNewton and keeps the bus types it ended with in the result, so that the
// sensitivities linearise the system that was solved.
func solveNewtonResult(nw *network, opt Options) (*Result, error) {
	v, iters, limited, typ, err := solveNewton(nw, opt)
	if err != nil {
		return nil, err
	}
	r := nw.result(v, NewtonRaphson, iters, limited)
	r.typ = typ
	return r, nil
}

// isRadial reports whether the sweep applies: every island a tree hanging from one slack bus.
func isRadial(nw *network) bool {
	_, err := radialTree(nw)
	return err == nil
}

// solveNewton runs Newton-Raphson, and when reactive limits are enforced, repeats it with violating PV
// buses fixed at their limits until no PV bus violates one.
func solveNewton(nw *network, opt Options) ([]complex128, int, []int, []BusType, error) {
	maxIter := opt.MaxIterations
	if maxIter <= 0 {
		maxIter = 20
	}
	typ := append([]BusType(nil), nw.typ...)
	sbus := append([]complex128(nil), nw.sbus...)
	v, total, err := newton(nw, typ, sbus, nw.v0, opt.Tolerance, maxIter)
	if err != nil || !opt.EnforceQLimits {
		return v, total, nil, typ, err
	}
	var limited []int
	for round := 0; round < nw.n; round++ {
		s := nw.injections(v)
		changed := false
		for i := range typ {
			if typ[i] != PV {
				continue
			}
			qg := imag(s[i]) + loadQ(nw, i) // generation = network draw + load
			lim := math.NaN()
			if qg > nw.qmax[i] {
				lim = nw.qmax[i]
			} else if qg < nw.qmin[i] {
				lim = nw.qmin[i]
			}
			if math.IsNaN(lim) {
				continue
			}
			typ[i] = PQ
			sbus[i] = complex(real(sbus[i]), lim-loadQ(nw, i))
			limited = append(limited, nw.ids[i])
			changed = true
		}
		if !changed {
			return v, total, limited, typ, nil
		}
		var it int
		v, it, err = newton(nw, typ, sbus, v, opt.Tolerance, maxIter)
		total += it
		if err != nil {
			return nil, total, limited, typ, err
		}
	}
	return v, total, limited, typ, nil
}

func loadQ(nw *network, i int) float64 { return nw.c.Buses[nw.caseBus[i]].Qd / nw.c.BaseMVA }

// result computes bus generation, branch flows and losses from the solved voltages.
func (nw *network) result(v []complex128, method Method, iters int, limited []int) *Result {
	base := nw.c.BaseMVA
	r := &Result{Case: nw.c.Name, Method: method, Iterations: iters, BaseMVA: base, QLimited: limited, v: v, nw: nw, typ: nw.typ}
	s := nw.injections(v)
	for i := 0; i < nw.n; i++ {
		b := nw.c.Buses[nw.caseBus[i]]
		// generation = what the network draws out of the bus + the load
		gen := s[i]*complex(base, 0) + complex(b.Pd, b.Qd)
		r.Buses = append(r.Buses, BusResult{ID: b.ID, Vm: cmplx.Abs(v[i]), VaDeg: cmplx.Phase(v[i]) * 180 / math.Pi,
			Pg: real(gen), Qg: imag(gen), Pd: b.Pd, Qd: b.Qd})
	}
	for _, b := range nw.br {
		vf, vt := v[b.f], v[b.t]
		sf := vf * cmplx.Conj(b.yff*vf+b.yft*vt) * complex(base, 0)
		st := vt * cmplx.Conj(b.ytf*vf+b.ytt*vt) * complex(base, 0)
		series := (vf/b.tap - vt) * b.ys // current through the series impedance
		br := nw.c.Branches[b.src]
		i2 := real(series*cmplx.Conj(series)) * base
		res := BranchResult{From: br.From, To: br.To, PFrom: real(sf), QFrom: imag(sf), PTo: real(st), QTo: imag(st),
			LossMW: i2 * br.R, LossMVAr: i2 * br.X}
		r.Branches = append(r.Branches, res)
		r.LossesMW += res.LossMW
		r.LossesMVAr += res.LossMVAr
		r.ChargingMVAr += br.B / 2 * (cmplx.Abs(vf/b.tap)*cmplx.Abs(vf/b.tap) + cmplx.Abs(vt)*cmplx.Abs(vt)) * base
	}
	r.MaxMismatch = nw.maxMismatch(v, nw.typ, nw.sbus)
	return r
}

// Bus returns the result of the bus with the given ID.
func (r *Result) Bus(id int) (BusResult, bool) {
	for _, b := range r.Buses {
		if b.ID == id {
			return b, true
		}
	}
	return BusResult{}, false
}

// MinVoltage returns the lowest bus voltage magnitude and its bus.
func (r *Result) MinVoltage() (vm float64, bus int) {
	vm = math.Inf(1)
	for _, b := range r.Buses {
		if b.Vm < vm {
			vm, bus = b.Vm, b.ID
		}
	}
	return vm, bus
}

// MaxVoltage returns the highest bus voltage magnitude and its bus.
func (r *Result) MaxVoltage() (vm float64, bus int) {
	vm = math.Inf(-1)
	for _, b := range r.Buses {
		if b.Vm > vm {
			vm, bus = b.Vm, b.ID
		}
	}
	return vm, bus
}
