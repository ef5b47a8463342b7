package firmware

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/auction"
)

// TestConsensusCommunityClearsOverTheMesh: with no centre, every interval of a sunny morning clears
// among the units' own peers over the in-memory mesh, within 0.5 % of the central optimum of the same
// bids, both sides of every trade agree, and the channels pay what they receive.
func TestConsensusCommunityClearsOverTheMesh(t *testing.T) {
	dir := t.TempDir()
	r := communityRunFor(t, 3*time.Hour, func(o *CommunityOptions) {
		o.Sim.Day = 180
		o.Method = MethodConsensus
		o.DumpMarket = dir
		o.Market.Horizon = 2 * time.Hour
	})
	checkCommunity(t, r, 12)
	if r.Market.TradeMismatches != 0 || r.Market.Dropped != 0 {
		t.Fatalf("market %+v", r.Market)
	}
	if r.Market.IterationsMax < 2 || r.Market.Method != "consensus" {
		t.Fatalf("market %+v: want the consensus peers to have iterated", r.Market)
	}
	files, err := filepath.Glob(filepath.Join(dir, "market-*.json"))
	if err != nil || len(files) != 12 {
		t.Fatalf("dumped %d intervals (%v), want 12", len(files), err)
	}
	// The dump round trip: re-solved centrally, the intervals add up to the summary's central optimum.
	var central float64
	for _, f := range files {
		c := readDump(t, f)
		sol, err := auction.SolveCommunity(c)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		central += sol.Welfare
	}
	if math.Abs(central-r.Market.Central) > 1e-6*math.Max(1, math.Abs(central)) {
		t.Fatalf("dumped intervals re-solve to %.9f, the run's central optimum was %.9f", central, r.Market.Central)
	}
}

func readDump(t *testing.T, path string) auction.Community {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := auction.ReadCommunity(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// TestConsensusCommunityClearsWithoutASilentUnit: unit 2's market never answers; its neighbour drops
// it every interval and the others still clear, within 0.5 % of the optimum of the units that took part.
func TestConsensusCommunityClearsWithoutASilentUnit(t *testing.T) {
	r := communityRunFor(t, time.Hour, func(o *CommunityOptions) {
		o.Sim.Day = 180
		o.Method = MethodConsensus
		o.Market.Horizon = time.Hour
		o.Silent = []int{2}
	})
	m := r.Market
	if m.Intervals != 4 || m.Cleared != 4 || m.Dropped < 4 || m.MaxGap > 0.005 {
		t.Fatalf("market %+v: want 4 intervals cleared by the other two, the silent unit dropped in each", m)
	}
	if r.Payments.Paid != r.Payments.Received {
		t.Fatalf("payments %+v", r.Payments)
	}
}
