package firmware

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/auction"
)

// communityDay is n units over a summer day on case33bw at half its loads, clearing by consensus every
// half hour over a three-hour horizon, every interval dumped to dir ("" not).
func communityDay(t testing.TB, n int, dir string) CommunityResult {
	o := DefaultCommunityOptions()
	o.Sim.Units, o.Sim.Duration, o.Sim.Step = n, 24*time.Hour, 10*time.Second
	o.Method = MethodConsensus
	o.Market.Interval, o.Market.Horizon = 30*time.Minute, 3*time.Hour
	o.Feeder = "../grid/testdata/case33bw.m"
	o.LedgerDir = t.TempDir()
	o.DumpMarket = dir
	r, err := SimulateCommunity(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkDay asserts the must-show of a simulated day.
func checkDay(t testing.TB, r CommunityResult) {
	m, p, f := r.Market, r.Payments, r.Feeder
	if m.Intervals != 48 || m.Cleared != 48 || m.Unchecked != 0 {
		t.Errorf("%d of %d intervals cleared, %d without a central reference (%v): want all 48", m.Cleared, m.Intervals, m.Unchecked, m.CentralErrors)
	}
	if m.MaxGap > 0.005 || m.TradeMismatches != 0 {
		t.Errorf("largest gap %.4f %%, %d trades whose two sides disagree", 100*m.MaxGap, m.TradeMismatches)
	}
	if p.Paid != p.Received || p.Failed != 0 || p.Held != 0 {
		t.Errorf("payments %+v", p) // channelTotals also checked every channel's balances against its deposits
	}
	if r.MaxImbalanceW > 1e-6 {
		t.Errorf("a unit's energy balance off by %g W", r.MaxImbalanceW)
	}
	if f == nil || f.OutsideBandByUnits != 0 || f.OutsideBand != 0 {
		t.Errorf("feeder %+v: want every period inside 0.95-1.05 p.u.", f)
	}
}

// TestCommunityDayOfThree: every interval of the day clears over the mesh, within 0.5 % of the
// central optimum of the dumped problem (re-solved here from the files), both sides of every trade
// agree, paid equals received, every channel balances to its deposits, every unit's energy is
// conserved, and the feeder stays in its band.
func TestCommunityDayOfThree(t *testing.T) {
	dir := t.TempDir()
	r := communityDay(t, 3, dir)
	checkDay(t, r)
	files, err := filepath.Glob(filepath.Join(dir, "market-*.json"))
	if err != nil || len(files) != 48 {
		t.Fatalf("dumped %d intervals (%v), want 48", len(files), err)
	}
	var central float64
	for _, f := range files {
		sol, err := auction.SolveCommunity(readDump(t, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		central += sol.Welfare
	}
	if math.Abs(central-r.Market.Central) > 1e-6*math.Max(1, math.Abs(central)) || math.Abs(central-r.Market.Welfare) > 0.005*math.Abs(central) {
		t.Fatalf("dumped day re-solves to %.6f, the run's central optimum %.6f, its welfare %.6f", central, r.Market.Central, r.Market.Welfare)
	}
	t.Logf("3 units: wall %.1f s, market %+v", r.WallSeconds, r.Market)
}

// BenchmarkCommunityDay is a whole simulated day of 10 and 50 units by consensus over the in-memory
// mesh (make soak); it fails on any of the day's must-show checks.
func BenchmarkCommunityDay(b *testing.B) {
	for _, n := range []int{10, 50} {
		b.Run(fmt.Sprintf("%dunits", n), func(b *testing.B) {
			for b.Loop() {
				r := communityDay(b, n, "")
				m := r.Market
				b.Logf("%d units: wall %.1f s; %d/%d cleared, gap max %.4f %%, iterations mean %.1f max %d, negotiation mean %.2f s; mesh %.1f msgs/unit/interval; feeder %.4f..%.4f p.u.",
					n, r.WallSeconds, m.Cleared, m.Intervals, 100*m.MaxGap, m.IterationsMean, m.IterationsMax, m.NegotiationMeanS,
					r.Mesh.MessagesPerUnitPerInterval, r.Feeder.MinVoltage, r.Feeder.MaxVoltage)
				checkDay(b, r)
				b.ReportMetric(r.Market.IterationsMean, "iterations/interval")
				b.ReportMetric(r.Market.NegotiationMeanS, "negotiation-s/interval")
				b.ReportMetric(r.Mesh.MessagesPerUnitPerInterval, "msgs/unit/interval")
			}
		})
	}
}
