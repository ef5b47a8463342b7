package grid

import (
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"strings"
	"testing"
)

// tightTolerance is the mismatch the cross-checks ask for: 1e-9 p.u. leaves a margin under the 1e-8 p.u.
// the checks demand and stays above the round-off floor of case141, whose 0.00001-ohm branch gives
// admittances near 1.5e6 p.u. (and a mismatch floor near 5e-10 p.u.).
const tightTolerance = 1e-9

// checkPowerBalance recomputes the balance at every bus from the reported branch flows, shunts, loads and
// generation: generation − load − shunt − flows leaving = 0, to 1e-8 p.u. The generation at PQ and PV
// buses (active) comes from the case, so this is an independent check of the solved state.
func checkPowerBalance(t *testing.T, c *Case, r *Result) {
	t.Helper()
	leaving := map[int]complex128{}
	for _, b := range r.Branches {
		leaving[b.From] += complex(b.PFrom, b.QFrom)
		leaving[b.To] += complex(b.PTo, b.QTo)
	}
	specGen := map[int]complex128{}
	for _, g := range c.Gens {
		if g.InService {
			specGen[g.Bus] += complex(g.Pg, g.Qg)
		}
	}
	buses := c.BusIndex()
	for _, br := range r.Buses {
		b := c.Buses[buses[br.ID]]
		gen := complex(br.Pg, br.Qg)
		switch b.Type {
		case PQ:
			gen = specGen[b.ID]
		case PV:
			gen = complex(real(specGen[b.ID]), br.Qg)
		}
		shunt := complex(b.Gs, -b.Bs) * complex(br.Vm*br.Vm, 0)
		mis := (gen - complex(b.Pd, b.Qd) - shunt - leaving[b.ID]) / complex(c.BaseMVA, 0)
		if cmplx.Abs(mis) > 1e-8 {
			t.Errorf("%s bus %d: power balance off by %.3g p.u.", c.Name, b.ID, cmplx.Abs(mis))
		}
	}
}

func maxVoltageDifference(a, b *Result) float64 {
	worst := 0.0
	for i := range a.Buses {
		va := cmplx.Rect(a.Buses[i].Vm, a.Buses[i].VaDeg*math.Pi/180)
		vb := cmplx.Rect(b.Buses[i].Vm, b.Buses[i].VaDeg*math.Pi/180)
		worst = math.Max(worst, cmplx.Abs(va-vb))
	}
	return worst
}

func TestEveryCaseConvergesAndBalances(t *testing.T) {
	radial := map[string]bool{"case4_dist": true, "case18": true, "case22": true, "case33bw": true, "case69": true, "case85": true, "case141": true}
	for _, name := range testCases {
		c := loadCase(t, name)
		nr, err := Solve(c, Options{Method: NewtonRaphson, Tolerance: tightTolerance})
		if err != nil {
			t.Errorf("%s: Newton-Raphson: %v", name, err)
			continue
		}
		checkPowerBalance(t, c, nr)
		auto, err := Solve(c, Options{Tolerance: tightTolerance})
		if err != nil {
			t.Fatalf("%s auto: %v", name, err)
		}
		wantAuto := NewtonRaphson
		if radial[name] {
			wantAuto = Sweep
		}
		if auto.Method != wantAuto {
			t.Errorf("%s: auto picked %v, want %v", name, auto.Method, wantAuto)
		}
		if !radial[name] {
			continue
		}
		sw, err := Solve(c, Options{Method: Sweep, Tolerance: tightTolerance})
		if err != nil {
			t.Errorf("%s: sweep: %v", name, err)
			continue
		}
		checkPowerBalance(t, c, sw)
		if d := maxVoltageDifference(nr, sw); d > 1e-8 {
			t.Errorf("%s: sweep and Newton-Raphson voltages differ by %.3g p.u.", name, d)
		}
	}
}

// TestPinnedFigures pins losses and extreme voltages. The values are what this package computes; each
// agrees with the figures MATPOWER's runpf prints for the same case (quoted in the comments), which is
// the cross-check that the model (taps, shunts, charging, conversions) is MATPOWER's.
func TestPinnedFigures(t *testing.T) {
	for _, tc := range []struct {
		name             string
		lossMW, lossMVAr float64
		vmin             float64
		vminBus          int
		vmax             float64
		vmaxBus          int
	}{
		// Baran & Wu 33-bus feeder: MATPOWER 202.68 kW / 135.14 kVAr, minimum 0.9131 p.u. at bus 18, the
		// end of the longest lateral; the source bus 1 is the maximum.
		{"case33bw", 0.2026771, 0.1351410, 0.9130905, 18, 1, 1},
		// 69-bus feeder: MATPOWER 224.99 kW, minimum 0.9092 p.u. at bus 65.
		{"case69", 0.2249917, 0.1021580, 0.9091877, 65, 1, 1},
		// Caracas 141-bus feeder with its 0.85 power-factor loads.
		{"case141", 0.6326956, 0.4676504, 0.9278621, 87, 1, 1},
		// WSCC 9-bus: MATPOWER 4.641 MW / 48.38 MVAr; minimum 0.9956 p.u. at bus 9; maximum 1.04 at the slack.
		{"case9", 4.6410215, 48.3840875, 0.9956309, 9, 1.04, 1},
		// IEEE 118-bus: MATPOWER 132.86 MW / 783.79 MVAr; minimum at the 0.943 p.u. generator bus 76;
		// maximum is the 1.05 p.u. set-point held at several buses (the first in bus order is 10).
		{"case118", 132.8628719, 783.7878706, 0.943, 76, 1.050, 10},
	} {
		c := loadCase(t, tc.name)
		r, err := Solve(c, Options{Method: NewtonRaphson})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		vmin, bmin := r.MinVoltage()
		vmax, bmax := r.MaxVoltage()
		if math.Abs(r.LossesMW-tc.lossMW) > 1e-6 || math.Abs(r.LossesMVAr-tc.lossMVAr) > 1e-6 {
			t.Errorf("%s: losses %.7f MW %.7f MVAr, want %.7f %.7f", tc.name, r.LossesMW, r.LossesMVAr, tc.lossMW, tc.lossMVAr)
		}
		if math.Abs(vmin-tc.vmin) > 2e-7 || bmin != tc.vminBus || math.Abs(vmax-tc.vmax) > 2e-7 || bmax != tc.vmaxBus {
			t.Errorf("%s: vmin %.7f at %d, vmax %.7f at %d; want %.7f at %d, %.7f at %d", tc.name, vmin, bmin, vmax, bmax, tc.vmin, tc.vminBus, tc.vmax, tc.vmaxBus)
		}
	}
}

// twoBus builds a slack bus feeding a load through one branch.
func twoBus(br Branch, pd, qd float64) *Case {
	return &Case{Name: "two-bus", BaseMVA: 100,
		Buses:    []Bus{{ID: 1, Type: Ref, Vm: 1}, {ID: 2, Type: PQ, Vm: 1, Pd: pd, Qd: qd}},
		Gens:     []Gen{{Bus: 1, Vg: 1, InService: true, Qmax: 1e3, Qmin: -1e3}},
		Branches: []Branch{br}}
}

func TestTransformerTapAndPhaseShift(t *testing.T) {
	// An unloaded ideal-ish transformer (tiny impedance, no load) with tap 1.05 and a 10° shift on the
	// from side: the to-bus voltage is Vfrom / (1.05∠10°) = 0.952381∠−10°.
	c := twoBus(Branch{From: 1, To: 2, X: 0.01, Ratio: 1.05, ShiftDeg: 10}, 0, 0)
	for _, m := range []Method{NewtonRaphson, Sweep} {
		r, err := Solve(c, Options{Method: m})
		if err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		b, _ := r.Bus(2)
		if math.Abs(b.Vm-1/1.05) > 1e-10 || math.Abs(b.VaDeg+10) > 1e-8 {
			t.Errorf("%v: bus 2 %.9f∠%.6f°, want %.9f∠-10°", m, b.Vm, b.VaDeg, 1/1.05)
		}
	}
}

func TestLineChargingAndShunt(t *testing.T) {
	// An open-ended line with charging B: no load, so the only current is the charging current of the
	// far half, and the far-end voltage rises (Ferranti effect): V2 = V1 / (1 + Z·jB/2).
	z := complex(0.02, 0.2)
	c := twoBus(Branch{From: 1, To: 2, R: real(z), X: imag(z), B: 0.4}, 0, 0)
	r, err := Solve(c, Options{Method: Sweep})
	if err != nil {
		t.Fatal(err)
	}
	want := 1 / (1 + z*complex(0, 0.2))
	b, _ := r.Bus(2)
	if math.Abs(b.Vm-cmplx.Abs(want)) > 1e-10 || b.Vm <= 1 {
		t.Errorf("Ferranti rise: V2 = %.9f, want %.9f (> 1)", b.Vm, cmplx.Abs(want))
	}
	// A 10 MVAr capacitor (Bs) at bus 2 supplies its own reactive power: 10·V² MVAr.
	c.Buses[1].Bs = 10
	c.Branches[0].B = 0
	r, err = Solve(c, Options{Method: NewtonRaphson})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = r.Bus(2)
	if q := r.Branches[0].QTo; math.Abs(q-10*b.Vm*b.Vm) > 1e-8 {
		t.Errorf("capacitor exports %.9f MVAr into the line, want 10·V² = %.9f", q, 10*b.Vm*b.Vm)
	}
}

func TestIslandWithoutSlackIsAnError(t *testing.T) {
	c := loadCase(t, "case9")
	// Opening branch 3-6 leaves generator bus 3 alone: an island with a PV bus but no slack.
	keep := c.Branches[:0]
	for _, br := range c.Branches {
		if br.From != 3 && br.To != 3 {
			keep = append(keep, br)
		}
	}
	c.Branches = keep
	for _, m := range []Method{Auto, NewtonRaphson, Sweep} {
		r, err := Solve(c, Options{Method: m})
		if r != nil || err == nil || !strings.Contains(err.Error(), "island of 1 bus(es) without a slack bus: 3") {
			t.Errorf("%v: island without slack gave %v, %v", m, r, err)
		}
	}
}

func TestNonConvergenceIsAnError(t *testing.T) {
	c := loadCase(t, "case33bw")
	for i := range c.Buses {
		c.Buses[i].Pd *= 8
		c.Buses[i].Qd *= 8
	}
	for _, m := range []Method{NewtonRaphson, Sweep} {
		r, err := Solve(c, Options{Method: m})
		var nc *NotConvergedError
		if !errors.As(err, &nc) || r != nil {
			t.Errorf("%v: overloaded feeder gave result %v, error %v; want NotConvergedError", m, r, err)
		}
	}
}

func TestSweepRefusesMeshed(t *testing.T) {
	c := loadCase(t, "case9")
	if _, err := Solve(c, Options{Method: Sweep}); err == nil || !strings.Contains(err.Error(), "meshed") {
		t.Errorf("case9 (a loop): %v", err)
	}
}

// TestSweepHoldsPVBuses: case4_dist is radial with a PV bus (400) behind a 1.025 tap; the sweep's
// PV-node compensation must hold it at its 1.05 p.u. set-point, with the reactive power Newton finds.
func TestSweepHoldsPVBuses(t *testing.T) {
	c := loadCase(t, "case4_dist")
	sw, err := Solve(c, Options{Method: Sweep})
	if err != nil {
		t.Fatal(err)
	}
	nr, err := Solve(c, Options{Method: NewtonRaphson})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sw.Bus(400)
	want, _ := nr.Bus(400)
	if math.Abs(b.Vm-1.05) > 1e-10 || math.Abs(b.Qg-want.Qg) > 1e-6 {
		t.Errorf("bus 400 by sweep: %.10f p.u., %.6f MVAr; want 1.05 and Newton's %.6f MVAr", b.Vm, b.Qg, want.Qg)
	}
	if _, err := Solve(c, Options{Method: Sweep, EnforceQLimits: true}); err == nil || !strings.Contains(err.Error(), "Newton-Raphson only") {
		t.Errorf("sweep with reactive limits: %v", err)
	}
	if r, err := Solve(c, Options{EnforceQLimits: true}); err != nil || r.Method != NewtonRaphson {
		t.Errorf("auto with reactive limits picks %v, %v; want nr", r.Method, err)
	}
}

func TestReactiveLimits(t *testing.T) {
	c := loadCase(t, "case9")
	// Generator 2 (bus 2) produces about 0.03 MVAr without limits; cap it to -5..-4 MVAr, so it must
	// absorb more than it wants: the bus turns PQ at -4 MVAr and its voltage leaves the 1.025 set-point.
	free, err := Solve(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := free.Bus(2)
	c.Gens[1].Qmax, c.Gens[1].Qmin = -4, -5
	off, err := Solve(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := off.Bus(2); got.Qg != b2.Qg || math.Abs(got.Vm-1.025) > 1e-12 {
		t.Errorf("limits are off by default: Qg %v Vm %v", got.Qg, got.Vm)
	}
	on, err := Solve(c, Options{EnforceQLimits: true})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := on.Bus(2)
	if len(on.QLimited) != 1 || on.QLimited[0] != 2 || math.Abs(got.Qg+4) > 1e-6 || got.Vm >= 1.025 {
		t.Errorf("with limits: limited %v, bus 2 Qg %.6f Vm %.6f; want bus 2 at -4 MVAr below 1.025 p.u.", on.QLimited, got.Qg, got.Vm)
	}
}

// TestTwoIslandsEachWithASlack: opening branch 6-7 of case33bw and putting a grid-forming source at
// bus 7 leaves two radial islands, each with its own slack; both methods solve them together.
func TestTwoIslandsEachWithASlack(t *testing.T) {
	c := loadCase(t, "case33bw")
	keep := c.Branches[:0]
	for _, br := range c.Branches {
		if !(br.From == 6 && br.To == 7) {
			keep = append(keep, br)
		}
	}
	c.Branches = keep
	c.Buses[6].Type = Ref
	c.Gens = append(c.Gens, Gen{Bus: 7, Vg: 1.0, InService: true, Qmax: 10, Qmin: -10})
	nr, err := Solve(c, Options{Method: NewtonRaphson, Tolerance: tightTolerance})
	if err != nil {
		t.Fatal(err)
	}
	sw, err := Solve(c, Options{Tolerance: tightTolerance})
	if err != nil || sw.Method != Sweep {
		t.Fatalf("auto on two radial islands: %v, %v", sw, err)
	}
	if d := maxVoltageDifference(nr, sw); d > 1e-8 {
		t.Errorf("methods differ by %.3g p.u.", d)
	}
	checkPowerBalance(t, c, nr)
	// bus 7's source now feeds 7-18 alone: its output is that part's load plus losses
	b7, _ := nr.Bus(7)
	if b7.Pg < 1.0 || b7.Pg > 1.2 {
		t.Errorf("source at bus 7 gives %.4f MW, want the 1.075 MW of buses 7-18 plus losses", b7.Pg)
	}
}

func TestSlackWithoutGeneratorIsAnError(t *testing.T) {
	c := loadCase(t, "case9")
	c.Gens[0].InService = false
	if _, err := Solve(c, Options{}); err == nil || !strings.Contains(err.Error(), "slack bus 1 has no in-service generator") {
		t.Errorf("slack without generator: %v", err)
	}
}

func TestNewtonRefusesOversizedCases(t *testing.T) {
	// a 2100-bus chain: 4200 unknowns, beyond the dense Jacobian's 4000
	c := &Case{Name: "chain", BaseMVA: 100, Gens: []Gen{{Bus: 1, Vg: 1, InService: true}}}
	for i := 1; i <= 2100; i++ {
		typ := PQ
		if i == 1 {
			typ = Ref
		}
		c.Buses = append(c.Buses, Bus{ID: i, Type: typ, Vm: 1})
		if i > 1 {
			c.Branches = append(c.Branches, Branch{From: i - 1, To: i, X: 0.001})
		}
	}
	if _, err := Solve(c, Options{Method: NewtonRaphson}); err == nil || !strings.Contains(err.Error(), "at most 4000 unknowns") {
		t.Errorf("oversized Newton: %v", err)
	}
	// the sweep has no such limit: an unloaded chain sits at the slack voltage
	r, err := Solve(c, Options{})
	if err != nil || r.Method != Sweep {
		t.Fatalf("auto on the chain: %v", err)
	}
	if vmin, _ := r.MinVoltage(); math.Abs(vmin-1) > 1e-12 {
		t.Errorf("unloaded chain: min voltage %v", vmin)
	}
}

// withPVBus returns a copy of c with bus turned into a PV bus: a generator of pg MW holding vg p.u.
func withPVBus(t *testing.T, c *Case, bus int, pg, vg float64) *Case {
	t.Helper()
	c = c.Clone()
	i, ok := c.BusIndex()[bus]
	if !ok {
		t.Fatalf("%s has no bus %d", c.Name, bus)
	}
	c.Buses[i].Type = PV
	c.Gens = append(c.Gens, Gen{Bus: bus, Pg: pg, Vg: vg, InService: true, Qmax: 100, Qmin: -100})
	return c
}

// TestSweepAndNewtonAgreeWithPVBusesAtFeederEnds puts a small generator holding 0.97 p.u. at the end of
// a lateral (case33bw buses 18 and 33, case69 buses 27 and 65, 69), in the middle of the main feeder
// (case33bw bus 10), and at two places at once. Each needs a large reactive injection, the hard case for
// PV-node compensation: the sweep must converge at the default tolerance (on the power mismatch, as
// Newton does), hold the set-points, and land on Newton's voltages to 1e-8 p.u.; auto must solve them.
func TestSweepAndNewtonAgreeWithPVBusesAtFeederEnds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		buses []int
	}{
		{"case33bw", []int{18}}, {"case33bw", []int{33}}, {"case33bw", []int{10}}, {"case33bw", []int{18, 33}},
		{"case69", []int{27}}, {"case69", []int{65}}, {"case69", []int{69}}, {"case69", []int{27, 65}},
	} {
		c := loadCase(t, tc.name)
		for _, b := range tc.buses {
			c = withPVBus(t, c, b, 0.05, 0.97)
		}
		label := fmt.Sprintf("%s with PV at %v", tc.name, tc.buses)
		nr, err := Solve(c, Options{Method: NewtonRaphson})
		if err != nil {
			t.Errorf("%s: Newton-Raphson: %v", label, err)
			continue
		}
		sw, err := Solve(c, Options{Method: Sweep})
		if err != nil {
			t.Errorf("%s: sweep: %v", label, err)
			continue
		}
		if sw.MaxMismatch >= 1e-8 {
			t.Errorf("%s: sweep stopped with mismatch %.3g", label, sw.MaxMismatch)
		}
		if d := maxVoltageDifference(nr, sw); d > 1e-8 {
			t.Errorf("%s: sweep and Newton-Raphson voltages differ by %.3g p.u.", label, d)
		}
		for _, b := range tc.buses {
			got, _ := sw.Bus(b)
			want, _ := nr.Bus(b)
			if math.Abs(got.Vm-0.97) > 1e-8 || math.Abs(got.Qg-want.Qg) > 1e-6 {
				t.Errorf("%s: bus %d by sweep %.10f p.u. %.7f MVAr; want 0.97 and Newton's %.7f MVAr", label, b, got.Vm, got.Qg, want.Qg)
			}
		}
		checkPowerBalance(t, c, sw)
		auto, err := Solve(c, Options{})
		if err != nil || auto.Method != Sweep || auto.SweepFailure != "" {
			t.Errorf("%s: auto gave %v, %v; want the sweep", label, auto, err)
		}
	}
}

// TestAutoFallsBackToNewtonWhenTheSweepFails bounds the iterations below what the sweep needs on
// case33bw with a PV bus at 18 (it converges linearly) but not below Newton's 4: auto must then return
// Newton's solution, say so, and keep the sweep's failure; a forced sweep must fail.
func TestAutoFallsBackToNewtonWhenTheSweepFails(t *testing.T) {
	c := withPVBus(t, loadCase(t, "case33bw"), 18, 0.05, 0.97)
	opt := Options{MaxIterations: 6}
	if _, err := Solve(c, Options{Method: Sweep, MaxIterations: 6}); err == nil {
		t.Fatal("the sweep converged in 6 iterations: the test no longer exercises the fallback")
	}
	r, err := Solve(c, opt)
	if err != nil {
		t.Fatalf("auto: %v", err)
	}
	if r.Method != NewtonRaphson || !strings.Contains(r.SweepFailure, "sweep power flow did not converge in 6 iterations") {
		t.Errorf("auto: method %v, sweep failure %q; want nr and the sweep's error", r.Method, r.SweepFailure)
	}
	nr, err := Solve(c, Options{Method: NewtonRaphson})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxVoltageDifference(nr, r); d != 0 || r.Iterations != nr.Iterations {
		t.Errorf("fallback result differs from Newton's: %.3g p.u., %d vs %d iterations", d, r.Iterations, nr.Iterations)
	}
	// when Newton fails too, the error is Newton's and mentions the sweep's
	c8 := loadCase(t, "case33bw")
	for i := range c8.Buses {
		c8.Buses[i].Pd *= 8
		c8.Buses[i].Qd *= 8
	}
	_, err = Solve(c8, Options{})
	var nc *NotConvergedError
	if !errors.As(err, &nc) || nc.Method != NewtonRaphson || !strings.Contains(err.Error(), "after the sweep failed") {
		t.Errorf("overloaded feeder by auto: %v", err)
	}
}

// TestLastGeneratorSetPointWins: with two in-service generators at one bus, MATPOWER's indexed
// assignment V0(gbus) = gen(on, VG) leaves the last one's set-point; an out-of-service one is ignored.
func TestLastGeneratorSetPointWins(t *testing.T) {
	c := loadCase(t, "case9")
	c.Gens = append(c.Gens, Gen{Bus: 2, Pg: 0, Vg: 1.03, InService: true, Qmax: 100, Qmin: -100},
		Gen{Bus: 2, Pg: 0, Vg: 1.01, InService: false})
	r, err := Solve(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := r.Bus(2); math.Abs(b.Vm-1.03) > 1e-12 {
		t.Errorf("bus 2 held at %.6f p.u., want the last in-service generator's 1.03", b.Vm)
	}
}
