package auction

import (
	"math"
	"testing"

	"github.com/fractals-energy/fractals/internal/units"
)

// islandWithBattery is a two-period island: PV covers an unresponsive load (valued at the cap) in
// period 0 with spareW to spare and produces nightW in period 1. A battery that starts empty stores the
// spare and gives it back in period 1 at 81 % round trip; where that is less than the shortage it covers
// it only in part.
func islandWithBattery(spareW, nightW float64) Problem {
	return Problem{Periods: 2, PeriodHours: 1, Agents: []Agent{
		{ID: "h1", Kind: KindLoad, DemandW: []units.Watts{1000, 1000}, ValuePerKWh: DefaultPriceCap},
		{ID: "pv", Kind: KindPV, ForecastW: []units.Watts{units.Watts(1000 + spareW), units.Watts(nightW)}, CostPerKWh: 0.01},
		{ID: "bat", Kind: KindBattery, CapacityWh: 5000, MaxChargeW: 2000, MaxDischargeW: 2000,
			ChargeEfficiency: 0.9, DischargeEfficiency: 0.9, CostPerKWh: 0.02},
	}}
}

// TestDistributedIslandBatteryPartlyCovers: the battery covers the shortage only in part, so the period
// short of supply clears at the cap and the other one at the cap times the round-trip efficiency (the
// battery's opportunity); the distributed method has to find both prices, far above any ordinary one.
func TestDistributedIslandBatteryPartlyCovers(t *testing.T) {
	for _, c := range []struct{ spareW, nightW float64 }{{200, 0}, {50, 0}, {900, 0}, {200, 200}, {50, 200}, {500, 300}} {
		p := islandWithBattery(c.spareW, c.nightW)
		central, err := Solve(p, Central, ADMMOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("spare %g W, night %g W: central prices %v welfare %g", c.spareW, c.nightW, central.Prices, central.Welfare)
		dist, err := Solve(p, Distributed, ADMMOptions{MaxIterations: 300})
		if err != nil {
			t.Fatalf("spare %g W, night %g W: %v", c.spareW, c.nightW, err)
		}
		checkDistributed(t, p, central, dist)
		checkSchedules(t, p, dist, 1e-6)
		t.Logf("spare %g W, night %g W: %d iterations, prices %v", c.spareW, c.nightW, dist.Iterations, dist.Prices)
	}
}

// TestDistributedIslandBatteryFullyCovers: the battery holds more than the shortage, so no period clears
// at the cap.
func TestDistributedIslandBatteryFullyCovers(t *testing.T) {
	p := islandWithBattery(1500, 0)
	central, err := Solve(p, Central, ADMMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dist, err := Solve(p, Distributed, ADMMOptions{MaxIterations: 300})
	if err != nil {
		t.Fatal(err)
	}
	checkDistributed(t, p, central, dist)
	checkSchedules(t, p, dist, 1e-6)
	if got := dist.Schedules["h1"][1]; math.Abs(got-1000) > 1 {
		t.Fatalf("h1 served %g W in period 1, want all 1000 W", got)
	}
	t.Logf("central prices %v; %d iterations, prices %v", central.Prices, dist.Iterations, dist.Prices)
}
