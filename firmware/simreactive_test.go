package firmware

import (
	"context"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/grid/ieee1547"
	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

// The volt-var set-point reaches the simulated PV inverter: a utility at 1.09 p.u. makes it absorb.
func TestVoltVarReachesTheSimulatedInverter(t *testing.T) {
	o := DefaultSimOptions()
	pc := o.PlantConfig(0)
	pc.Start = pc.Start.Add(12 * time.Hour)
	pc.Grid.Excursions = []hil.Excursion{{From: 0, To: time.Hour, Voltage: 1.09, Frequency: units.Hertz(pc.Grid.NominalFrequency)}}
	clk := clock.NewSim(pc.Start)
	plant, unit, err := newScenarioUnit(pc, time.Second, ieee1547.CategoryII, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_ = unit.Cycle(context.Background())
		plant.Advance(time.Second)
		clk.Advance(time.Second)
	}
	if q := plant.ReactivePower(); q >= 0 {
		t.Fatalf("utility at 1.09 p.u.: want the PV inverter absorbing reactive power, got %v var (commands %+v)", q, unit.Status().Commands)
	}
}
