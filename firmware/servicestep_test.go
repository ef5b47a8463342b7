package firmware

import (
	"context"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/internal/clock"
)

// countingDegrader counts the service steps the writer sends on to the unit's services.
type countingDegrader struct {
	next  serviceSteps
	sends int
}

func (c *countingDegrader) SetServiceStep(ctx context.Context, step int) error {
	c.sends++
	return c.next.SetServiceStep(ctx, step)
}

// A night outage with the battery inside the services band: each cycle the step the controller
// commands reaches the simulated access point and storage node through ApplyServiceStep, only when it
// changes or on the writer's refresh, and the plant's Wi-Fi and storage demand follow it down.
func TestServiceStepDrivesTheSimulatedServices(t *testing.T) {
	o := DefaultSimOptions()
	o.Outages = []hil.Outage{{From: 0, To: 6 * time.Hour}}
	pc := o.PlantConfig(0)
	pc.Battery.InitialSoC = 0.19 // below the 0.2 reserve, above the services floor
	clk := clock.NewSim(pc.Start)
	plant, err := hil.New(pc)
	if err != nil {
		t.Fatal(err)
	}
	untold, err := hil.New(pc) // the same plant whose services are never told anything
	if err != nil {
		t.Fatal(err)
	}
	var degraded, raw float64 // W·s of Wi-Fi and storage demand
	cc := ControllerConfigFor(pc)
	devs := SimulatedDevices(plant)
	deg := &countingDegrader{next: devs.Services.(serviceSteps)}
	devs.Services = deg
	wc := fractals.DefaultWriterConfig()
	unit, err := NewUnit(cc, wc, devs, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	const cycles = 3600
	steps := map[fractals.ServiceStep]bool{}
	changes := 0
	last := fractals.ServiceStep(-1)
	for n := 0; n < cycles; n++ {
		if err := unit.Cycle(context.Background()); err != nil {
			t.Fatal(err)
		}
		step := unit.Status().Commands.ServiceStep
		if step != last {
			changes++
			last = step
		}
		steps[step] = true
		s := plant.Services()
		if s.ReplicationPaused != (step >= 1) || s.ReadOnly != (step >= 2) || s.WiFiOff != (step >= 4) {
			t.Fatalf("cycle %d: step %v commanded, the plant's services are %+v", n, step, s)
		}
		if wantLimit := map[bool]int{true: DefaultServiceLimits.ReducedClients, false: DefaultServiceLimits.FullClients}[step >= 3]; step < 4 && s.ClientLimit != wantLimit {
			t.Fatalf("cycle %d: step %v, Wi-Fi client limit %d, want %d", n, step, s.ClientLimit, wantLimit)
		}
		degraded += float64(plant.Load(hil.WiFi).Demand + plant.Load(hil.Storage).Demand)
		raw += float64(untold.Load(hil.WiFi).Demand + untold.Load(hil.Storage).Demand)
		plant.Advance(time.Second)
		untold.Advance(time.Second)
		clk.Advance(time.Second)
	}
	if !steps[fractals.ServiceReadOnly] && !steps[fractals.ServiceNoReplication] {
		t.Fatalf("steps seen %v: the outage never degraded the services", steps)
	}
	// Sent when the step changed, and otherwise only on the writer's refresh.
	if limit := changes + int(cycles*time.Second/wc.Refresh) + 1; deg.sends > limit {
		t.Fatalf("%d service steps sent in %d cycles with %d changes, want at most %d", deg.sends, cycles, changes, limit)
	}
	t.Logf("steps %v, %d changes, %d sends; services %.0f W·s degraded vs %.0f W·s untold", steps, changes, deg.sends, degraded, raw)
	if degraded >= raw {
		t.Fatalf("services drew %.0f W·s degraded, %.0f W·s in the same plant untold: the tiers saved nothing", degraded, raw)
	}
}
