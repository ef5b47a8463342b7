package grid

import (
	"math"
	"testing"
)

// TestSensitivitiesMatchFiniteDifferences re-solves each case with a small extra load at a few buses
// and compares the change of every voltage and from-end flow with the linear prediction.
func TestSensitivitiesMatchFiniteDifferences(t *testing.T) {
	for _, tc := range []struct {
		name  string
		buses []int
	}{
		{"case33bw", []int{18, 25, 33}}, // feeder ends: the largest sensitivities
		{"case14", []int{9, 14, 4}},     // meshed, with PV buses holding their voltages
	} {
		c := loadCase(t, tc.name)
		base, err := Solve(c, Options{Method: NewtonRaphson, Tolerance: 1e-12})
		if err != nil {
			t.Fatal(err)
		}
		sens, err := base.Sensitivities()
		if err != nil {
			t.Fatal(err)
		}
		idx := c.BusIndex()
		for _, k := range tc.buses {
			col := -1
			for j, id := range sens.Buses {
				if id == k {
					col = j
				}
			}
			for _, reactive := range []bool{false, true} {
				const step = 1e-3 // MW or MVAr of extra load (a negative injection), applied both ways
				solveWith := func(extra float64) *Result {
					pert := c.Clone()
					if reactive {
						pert.Buses[idx[k]].Qd += extra
					} else {
						pert.Buses[idx[k]].Pd += extra
					}
					r, err := Solve(pert, Options{Method: NewtonRaphson, Tolerance: 1e-12})
					if err != nil {
						t.Fatal(err)
					}
					return r
				}
				// central differences cancel the curvature (losses are quadratic in the flows)
				up, down := solveWith(step), solveWith(-step)
				dvm, dpf := sens.DVmDP, sens.DPfDP
				if reactive {
					dvm, dpf = sens.DVmDQ, sens.DPfDQ
				}
				for i := range up.Buses {
					want := (up.Buses[i].Vm - down.Buses[i].Vm) / (2 * step)
					got := -dvm.At(i, col)
					if math.Abs(got-want) > 1e-5*math.Abs(want)+1e-9 {
						t.Errorf("%s: dVm(bus %d)/d%s(bus %d) = %.6g, finite difference %.6g", tc.name, up.Buses[i].ID, pq(reactive), k, got, want)
					}
				}
				for l := range up.Branches {
					want := (up.Branches[l].PFrom - down.Branches[l].PFrom) / (2 * step)
					got := -dpf.At(l, col)
					if math.Abs(got-want) > 1e-5*math.Abs(want)+1e-7 {
						t.Errorf("%s: dPf(%v)/d%s(bus %d) = %.6g, finite difference %.6g", tc.name, sens.Branches[l], pq(reactive), k, got, want)
					}
				}
			}
		}
	}
}

func pq(reactive bool) string {
	if reactive {
		return "Q"
	}
	return "P"
}

func TestSensitivityStructure(t *testing.T) {
	c := loadCase(t, "case33bw")
	r, err := Solve(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Sensitivities()
	if err != nil {
		t.Fatal(err)
	}
	// The slack bus holds its voltage and absorbs injections: zero row and zero column.
	for k := range s.Buses {
		if s.DVmDP.At(0, k) != 0 || s.DVmDP.At(k, 0) != 0 {
			t.Fatalf("slack bus entries must be zero")
		}
	}
	// On a radial feeder, injecting at bus 18 relieves every branch on the path 1-2-...-17-18 by one MW
	// per MW plus the marginal losses it saves (up to about 15 % at the head of this loaded feeder), and
	// barely touches the other laterals: only through the voltage rise, which shrinks their currents.
	col := 17
	for l, br := range s.Branches {
		d := s.DPfDP.At(l, col)
		onPath := br[0]+1 == br[1] && br[1] <= 18 // the main feeder 1-2, 2-3, ..., 17-18
		switch {
		case onPath && (d > -1 || d < -1.15):
			t.Errorf("branch %v on the path: dPf/dP18 = %.4f, want in [-1.15, -1]", br, d)
		case !onPath && math.Abs(d) > 2e-3:
			t.Errorf("branch %v off the path: dPf/dP18 = %.3g, want below 2e-3 in magnitude", br, d)
		}
	}
}

// TestSensitivitiesAfterReactiveLimits: case9's generator 2 capped at -5..-4 MVAr is held at -4 MVAr and
// its bus becomes PQ, so its voltage moves with injections there. The sensitivities must linearise that
// solved system: dVm/dQ at bus 2 matches a finite difference (with limits enforced) instead of the zero
// a PV bus would give.
func TestSensitivitiesAfterReactiveLimits(t *testing.T) {
	c := loadCase(t, "case9")
	c.Gens[1].Qmax, c.Gens[1].Qmin = -4, -5
	opt := Options{EnforceQLimits: true, Tolerance: 1e-12}
	base, err := Solve(c, opt)
	if err != nil || len(base.QLimited) != 1 || base.QLimited[0] != 2 {
		t.Fatalf("limited %v, %v; want bus 2", base.QLimited, err)
	}
	sens, err := base.Sensitivities()
	if err != nil {
		t.Fatal(err)
	}
	row := -1
	for i, id := range sens.Buses {
		if id == 2 {
			row = i
		}
	}
	const step = 1e-3 // MVAr of extra load at bus 2, both ways
	vmWith := func(extra float64) float64 {
		pert := c.Clone()
		pert.Buses[1].Qd += extra
		r, err := Solve(pert, opt)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := r.Bus(2)
		return b.Vm
	}
	want := (vmWith(step) - vmWith(-step)) / (2 * step)
	got := -sens.DVmDQ.At(row, row)
	if want == 0 || math.Abs(got-want) > 1e-5*math.Abs(want) {
		t.Errorf("dVm(2)/dQload(2) = %.6g, finite difference %.6g", got, want)
	}
}
