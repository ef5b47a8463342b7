package hil

import (
	"math"
	"os"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/grid"
	"github.com/fractals-energy/fractals/internal/units"
)

// Without controllers, three units of different ratings on a feeder: the head opens when the utility
// is lost, the batteries share the imbalance in proportion to their ratings, the frequency stays near
// nominal, and the head closes again only after the enter-service delay and synchronisation.
func TestCommunityIslandsTogetherAndSharesByDroop(t *testing.T) {
	f, err := os.Open("../grid/testdata/case33bw.m")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cs, err := grid.ParseMATPOWER(f, "case33bw.m")
	if err != nil {
		t.Fatal(err)
	}
	var cfgs []Config
	for i, kw := range []float64{3000, 4000, 6000} {
		c := DefaultConfig()
		c.Start = c.Start.Add(19 * time.Hour)
		c.Seed = uint64(i + 1)
		c.Battery.MaxDischarge, c.Battery.MaxCharge = unitsW(kw), unitsW(kw)
		cfgs = append(cfgs, c)
	}
	com, err := NewCommunity(CommunityConfig{Units: cfgs, Case: cs, Buses: []int{6, 18, 33}, FreqDroop: 0.01,
		EnterService: time.Minute, Outages: []Outage{{From: 10 * time.Second, To: 5 * time.Minute}}})
	if err != nil {
		t.Fatal(err)
	}
	var opened, closed time.Duration
	for n := 1; n <= 600; n++ {
		if err := com.Advance(time.Second); err != nil {
			t.Fatal(err)
		}
		st, at := com.State(), time.Duration(n)*time.Second
		if !st.HeadClosed && opened == 0 {
			opened = at
		}
		if st.HeadClosed && opened != 0 && closed == 0 {
			closed = at
		}
		if st.Islanded {
			var total float64
			for _, w := range st.Share {
				total += float64(w)
			}
			if math.Abs(total) > 100 {
				for i, w := range st.Share {
					if share := float64(w) / total; math.Abs(share-[]float64{3, 4, 6}[i]/13) > 0.01 {
						t.Fatalf("at %v unit %d carries %.3f of %.0f W, want its rating's %.3f", at, i, share, total, []float64{3, 4, 6}[i]/13)
					}
				}
			}
			if math.Abs(float64(st.Frequency)-50) > 1 {
				t.Fatalf("at %v the feeder runs at %v", at, st.Frequency)
			}
		}
		for i, v := range st.Voltages {
			if v < 0.9 || v > 1.1 {
				t.Fatalf("unit %d bus voltage %v", i, v)
			}
		}
	}
	if opened == 0 || opened > 12*time.Second {
		t.Fatalf("head opened at %v, want within 2 s of the loss at 10 s", opened)
	}
	if closed < 5*time.Minute+time.Minute || closed == 0 {
		t.Fatalf("head closed at %v, want after the utility's return at 5 m plus the 1 m enter-service delay", closed)
	}
	for _, p := range com.Plants() {
		if c := p.Counters(); c.Unserved[Critical] > 0 || c.IslandedSeconds > 0 {
			t.Fatalf("a unit was short or islanded on its own: %+v", c)
		}
	}
}

func unitsW(w float64) units.Watts { return units.Watts(w) }
