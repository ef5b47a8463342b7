package firmware

import (
	"math"
	"testing"

	"github.com/fractals-energy/fractals/internal/units"
)

const case33 = "../grid/testdata/case33bw.m"

func TestFeederInjectionsMoveVoltagesAndLosses(t *testing.T) {
	f, err := LoadFeeder(case33, 3, []int{18, 17, 16})
	if err != nil {
		t.Fatal(err)
	}
	base, err := f.Solve(make([]units.Watts, 3))
	if err != nil {
		t.Fatal(err)
	}
	// The case's own loads: MATPOWER reports 202.7 kW of losses and 0.9131 p.u. at bus 18.
	if math.Abs(base.LossesW-202.68e3) > 0.5e3 || math.Abs(base.MinVoltage-0.9131) > 5e-4 || base.MinBus != 18 {
		t.Fatalf("base case %+v", base)
	}
	// 100 kW exported by each unit at the feeder's end raises its voltage and cuts losses.
	exp, err := f.Solve([]units.Watts{-1e5, -1e5, -1e5})
	if err != nil {
		t.Fatal(err)
	}
	if !(exp.MinVoltage > base.MinVoltage && exp.LossesW < base.LossesW) {
		t.Fatalf("export at the end: %+v against %+v", exp, base)
	}
	// Neighbours on adjacent buses pay less network charge than the average pair.
	if f.NetworkCharge(0, 1, 0.02) >= 0.02 || f.NetworkCharge(0, 2, 0.02) <= f.NetworkCharge(0, 1, 0.02) {
		t.Fatalf("charges 18-17 %v, 18-16 %v", f.NetworkCharge(0, 1, 0.02), f.NetworkCharge(0, 2, 0.02))
	}
}
