package firmware

import (
	"context"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/clock"
)

// The simulated unit keeps a night reserve from its own forecasts: in the evening it is the critical
// energy until the morning, well above SoCMin, and it reaches the controller's state.
func TestSimulatedUnitForecastsItsNightReserve(t *testing.T) {
	o := DefaultSimOptions()
	pc := o.PlantConfig(0)
	pc.Start = pc.Start.Add(18 * time.Hour)
	clk := clock.NewSim(pc.Start)
	plant, unit, err := newSimulatedUnit(pc, time.Second, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 1200 { // 20 minutes: the reserve is recomputed every 15
		if err := unit.Cycle(ctx); err != nil {
			t.Fatal(err)
		}
		plant.Advance(time.Second)
		clk.Advance(time.Second)
	}
	r := unit.NightReserve()
	crit := plant.Load(0).Demand // W, the critical circuit
	// Roughly 11 hours of the critical load to the morning, through the discharge efficiency.
	lo := float64(pc.Battery.SoCMin) + 0.5*11*float64(crit)/float64(pc.Battery.Capacity)
	if float64(r) < lo || r > pc.Battery.SoCMax {
		t.Fatalf("night reserve at 18:20 is %v with a %v W critical load, want at least %.3f", r, float64(crit), lo)
	}
	if got := unit.Status().State.NightReserve; got != r {
		t.Fatalf("the controller's state holds %v, the unit computed %v", got, r)
	}
}
