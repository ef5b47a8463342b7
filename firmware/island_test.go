package firmware

import (
	"context"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/internal/clock"
)

// An hour's outage at noon through the simulated devices: the unit islands within 2 s, the critical
// load is never unserved, and after the utility is back it waits out enter-service, synchronises the
// out-of-phase island through the battery's frequency set-point, closes and ramps back.
func TestOutageIslandsAndResynchronises(t *testing.T) {
	o := DefaultSimOptions()
	o.Outages = []hil.Outage{{From: 12 * time.Hour, To: 13 * time.Hour}}
	pc := o.PlantConfig(0)
	clk := clock.NewSim(pc.Start)
	plant, unit, err := newSimulatedUnit(pc, time.Second, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	var phases []fractals.Phase
	var islandedAt, closedAt time.Duration
	for n := 0; n < int(14*time.Hour/time.Second); n++ {
		if err := unit.Cycle(context.Background()); err != nil {
			t.Fatal(err)
		}
		ph := unit.Status().State.Island.Phase
		if len(phases) == 0 || phases[len(phases)-1] != ph {
			phases = append(phases, ph)
			switch ph {
			case fractals.PhaseIslanded:
				if islandedAt == 0 {
					islandedAt = plant.Elapsed()
				}
			case fractals.PhaseConnected:
				closedAt = plant.Elapsed()
			}
		}
		plant.Advance(time.Second)
		clk.Advance(time.Second)
	}
	want := []fractals.Phase{fractals.PhaseConnected, fractals.PhaseOpening, fractals.PhaseIslanded,
		fractals.PhaseSynchronising, fractals.PhaseClosing, fractals.PhaseConnected}
	if len(phases) != len(want) {
		t.Fatalf("phases %v, want %v", phases, want)
	}
	for i := range want {
		if phases[i] != want[i] {
			t.Fatalf("phases %v, want %v", phases, want)
		}
	}
	if d := islandedAt - 12*time.Hour; d > 2*time.Second {
		t.Fatalf("island formed %v after the grid loss, want within 2 s", d)
	}
	if closedAt < 13*time.Hour+5*time.Minute {
		t.Fatalf("reconnected at %v, before the utility held enter-service for 5 min after 13:00", closedAt)
	}
	if c := plant.Counters(); c.Unserved[hil.Critical] > 0 {
		t.Fatalf("critical load unserved: %v", c.Unserved[hil.Critical])
	}
	if closedAt > 13*time.Hour+7*time.Minute {
		t.Fatalf("synchronisation took until %v", closedAt)
	}
}
