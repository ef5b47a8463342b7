package auction

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// checkTradesAgree: every trade a unit committed is its partner's with the opposite quantity and the
// same price, bit for bit, and no unit trades with a unit it did not negotiate with.
func checkTradesAgree(t *testing.T, results map[string]*IntervalResult) {
	t.Helper()
	type key struct {
		self, partner string
		period        int
	}
	trades := map[key]Trade{}
	for id, r := range results {
		for _, tr := range r.Trades {
			trades[key{id, tr.Partner, tr.Period}] = tr
		}
	}
	for k, tr := range trades {
		other, ok := trades[key{k.partner, k.self, k.period}]
		if !ok {
			if tr.BuyW != 0 && results[k.partner] != nil {
				t.Errorf("%s trades %v W with %s in period %d, which has no record of it", k.self, tr.BuyW, k.partner, k.period)
			}
			continue
		}
		if other.BuyW != -tr.BuyW || other.PricePerKWh != tr.PricePerKWh {
			t.Errorf("%s–%s period %d: %v W at %v vs %v W at %v", k.self, k.partner, k.period, tr.BuyW, tr.PricePerKWh, other.BuyW, other.PricePerKWh)
		}
	}
}

func totalWelfare(results map[string]*IntervalResult) float64 {
	var w float64
	for _, r := range results {
		w += r.Welfare()
	}
	return w
}

func relGap(got, want float64) float64 { return math.Abs(got-want) / math.Max(1e-9, math.Abs(want)) }

// clearAndCheck runs one interval of c over h and holds it to the central optimum.
func clearAndCheck(t *testing.T, c Community, h *netHarness, tune func(*PeerConfig)) map[string]*IntervalResult {
	t.Helper()
	central, err := SolveCommunity(c)
	if err != nil {
		t.Fatal(err)
	}
	startPeers(t, h, c, tune)
	h.run(t, 20*time.Minute)
	checkTradesAgree(t, h.results)
	var maxIt, msgs int
	var imbalance float64
	for id, r := range h.results {
		if !r.Converged {
			t.Errorf("%s: %s after %d iterations", id, r.Reason, r.Iterations)
		}
		maxIt = max(maxIt, r.Iterations)
		msgs += r.MessagesSent
		imbalance = math.Max(imbalance, r.ImbalanceW)
	}
	w := totalWelfare(h.results)
	gap := relGap(w, central.Welfare)
	t.Logf("%d units, %d links: welfare %.5f, central %.5f, gap %.4f %%, iterations %d, max imbalance %.2f W, messages %d, simulated %v, lost %d",
		len(c.Units), len(c.Links), w, central.Welfare, 100*gap, maxIt, imbalance, msgs, h.now.Sub(harnessStart), h.lost)
	if gap > 0.005 {
		t.Errorf("welfare %.6f is %.3f %% from the central optimum %.6f", w, 100*gap, central.Welfare)
	}
	return h.results
}

func TestConsensusThreeUnitsLine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := testCommunity(3, 4, lineLinks(3), true, rng)
	clearAndCheck(t, c, newHarness(1), nil)
}

func TestConsensusTopologies(t *testing.T) {
	cases := []struct {
		name  string
		n     int
		links func(rng *rand.Rand) [][2]int
	}{
		{"line10", 10, func(*rand.Rand) [][2]int { return lineLinks(10) }},
		{"ring10", 10, func(*rand.Rand) [][2]int { return ringLinks(10) }},
		{"geometric10", 10, func(rng *rand.Rand) [][2]int { return geometricLinks(10, 0.45, rng) }},
		{"ring3", 3, func(*rand.Rand) [][2]int { return ringLinks(3) }},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(10+i), 3))
			c := testCommunity(tc.n, 4, tc.links(rng), true, rng)
			clearAndCheck(t, c, newHarness(uint64(i)), nil)
		})
	}
}

func TestConsensusFiftyUnits(t *testing.T) {
	if testing.Short() {
		t.Skip("50 units: run without -short")
	}
	for i, name := range []string{"ring", "geometric"} {
		radius := 0.16
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(50, uint64(i)))
			links := ringLinks(50)
			if name == "geometric" {
				links = geometricLinks(50, radius, rng)
			}
			c := testCommunity(50, 4, links, true, rng)
			clearAndCheck(t, c, newHarness(uint64(i)), nil)
		})
	}
}
