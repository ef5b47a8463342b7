package auction

import (
	"bytes"
	"github.com/fractals-energy/fractals/internal/units"
	"math"
	"math/rand/v2"
	"strings"
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

// TestConsensusNeighbourDies: a unit falls silent mid-interval; its neighbours drop it after the
// silence timeout, their trades with it are zero, and the rest still clear, as close to the central
// optimum of the community without it as before.
func TestConsensusNeighbourDies(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 4))
	c := testCommunity(6, 4, ringLinks(6), true, rng)
	h := newHarness(5)
	h.killAt["u03"] = 40 // after about ten iterations' messages
	startPeers(t, h, c, nil)
	h.run(t, 20*time.Minute)
	checkTradesAgree(t, h.results)
	for _, id := range []string{"u02", "u04"} {
		r := h.results[id]
		if !r.Converged || len(r.Dropped) != 1 || r.Dropped[0] != "u03" {
			t.Fatalf("%s: converged %v, dropped %v, want u03 dropped", id, r.Converged, r.Dropped)
		}
		for _, tr := range r.Trades {
			if tr.Partner == "u03" {
				t.Fatalf("%s kept a trade with the dead unit: %+v", id, tr)
			}
		}
	}
	// The survivors' market is the community without u03 (and its links).
	var rest Community
	rest.Periods, rest.PeriodHours = c.Periods, c.PeriodHours
	for _, u := range c.Units {
		if u.ID != "u03" {
			rest.Units = append(rest.Units, u)
		}
	}
	for _, l := range c.Links {
		if l.A != "u03" && l.B != "u03" {
			rest.Links = append(rest.Links, l)
		}
	}
	central, err := SolveCommunity(rest)
	if err != nil {
		t.Fatal(err)
	}
	w := totalWelfare(h.results)
	t.Logf("survivors' welfare %.5f, central without u03 %.5f, gap %.4f %%", w, central.Welfare, 100*relGap(w, central.Welfare))
	if relGap(w, central.Welfare) > 0.005 {
		t.Fatalf("survivors' welfare %.6f, central %.6f", w, central.Welfare)
	}
}

// TestConsensusLossAndJitter: 20 % of the messages lost and up to 200 ms of jitter slow the market down
// (resends) but it still clears to the same optimum.
func TestConsensusLossAndJitter(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 5))
	c := testCommunity(10, 4, ringLinks(10), true, rng)
	clean := clearAndCheck(t, c, newHarness(6), nil)
	h := newHarness(7)
	h.drop, h.jitter = 0.2, 200*time.Millisecond
	lossy := clearAndCheck(t, c, h, func(p *PeerConfig) { p.SilenceTimeout = time.Minute })
	var cleanIt, lossyIt int
	for id := range clean {
		cleanIt = max(cleanIt, clean[id].Iterations)
		lossyIt = max(lossyIt, lossy[id].Iterations)
	}
	t.Logf("clean: %d iterations; 20 %% loss + 200 ms jitter: %d iterations in %v simulated, %d messages lost", cleanIt, lossyIt, h.now.Sub(harnessStart), h.lost)
}

// TestConsensusIslandPricesRiseWithScarcity: with no grid agent anywhere, less sunshine means higher
// prices on the committed trades.
func TestConsensusIslandPricesRiseWithScarcity(t *testing.T) {
	meanPrice := func(pvScale float64) float64 {
		rng := rand.New(rand.NewPCG(51, 6))
		c := testCommunity(5, 4, lineLinks(5), false, rng)
		for i := range c.Units {
			for j := range c.Units[i].Agents {
				a := &c.Units[i].Agents[j]
				for t := range a.ForecastW {
					a.ForecastW[t] *= units.Watts(pvScale)
				}
			}
		}
		results := clearAndCheck(t, c, newHarness(8), nil)
		var sum, n float64
		for _, r := range results {
			for _, tr := range r.Trades {
				if tr.BuyW > 1 {
					sum += float64(tr.PricePerKWh)
					n++
				}
			}
		}
		if n == 0 {
			t.Fatalf("no trades at PV scale %v", pvScale)
		}
		return sum / n
	}
	sunny, dim := meanPrice(1), meanPrice(0.3)
	t.Logf("islanded mean trade price: sunny %.4f, dim %.4f per kWh", sunny, dim)
	if !(dim > sunny) {
		t.Fatalf("price with scarce PV %.4f not above the sunny %.4f", dim, sunny)
	}
}

func FuzzDecodePeerMessage(f *testing.F) {
	for _, m := range []PeerMessage{
		{Kind: KindIterate, Interval: 7, Iteration: 3, Streak: 1, Stop: NoStop, SellKW: []float64{0, 1.5}, BuyKW: []float64{2, 0}},
		{Kind: KindLeave, Interval: 9},
	} {
		b, err := m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{1, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodePeerMessage(data)
		if err != nil {
			if !strings.Contains(err.Error(), "market message") {
				t.Fatalf("error %q does not say what it is about", err)
			}
			return
		}
		again, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("decode then encode changed the bytes")
		}
	})
}

// FuzzPeerStep: whatever arrives, Step returns an error or handles it and never panics; the interval
// still ends at every peer, and when the input was refused both sides of every trade still agree (an
// accepted message is the neighbour's own word, which the mesh authenticated: a lying neighbour moves
// its own trades, see the package doc).
func FuzzPeerStep(f *testing.F) {
	good, _ := PeerMessage{Kind: KindIterate, Interval: 7, Iteration: 0, Stop: 0, SellKW: make([]float64, 4), BuyKW: make([]float64, 4)}.MarshalBinary()
	f.Add(good)
	f.Add([]byte{1, 2, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		rng := rand.New(rand.NewPCG(61, 7))
		c := testCommunity(3, 4, lineLinks(3), true, rng)
		h := newHarness(9)
		peers := startPeers(t, h, c, nil)
		errFromNeighbour := peers["u00"].Step("u01", data, h.now)
		if err := peers["u00"].Step("nobody", data, h.now); err == nil {
			t.Fatalf("a message from a unit that is no neighbour was accepted")
		}
		h.run(t, 20*time.Minute)
		if errFromNeighbour != nil {
			checkTradesAgree(t, h.results)
		}
	})
}

// TestCommunityRoundTripAndRunner: a written community reads back as the same market, and the
// in-process runner clears it to the central optimum with every trade agreed.
func TestCommunityRoundTripAndRunner(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 8))
	c := testCommunity(6, 4, ringLinks(6), true, rng)
	var buf bytes.Buffer
	if err := WriteCommunity(&buf, c); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCommunity(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("dumped community does not read back: %v\n%s", err, buf.String())
	}
	a, _ := SolveCommunity(c)
	b, _ := SolveCommunity(back)
	if a.Welfare != b.Welfare {
		t.Fatalf("welfare %v before the round trip, %v after", a.Welfare, b.Welfare)
	}
	run, err := RunConsensus(back, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkTradesAgree(t, run.Results)
	t.Logf("runner: welfare %.5f, central %.5f, %d iterations, %.2f messages per unit and iteration, %.2f neighbours", run.Welfare, a.Welfare, run.Iterations, run.MessagesPerUnitIteration, run.MeanNeighbours)
	if !run.Converged || relGap(run.Welfare, a.Welfare) > 0.005 {
		t.Fatalf("runner: converged %v, welfare %v, central %v", run.Converged, run.Welfare, a.Welfare)
	}
	if !IsCommunityInput(buf.Bytes()) || IsCommunityInput([]byte(`{"agents":[]}`)) {
		t.Fatal("IsCommunityInput")
	}
	bad := map[string]string{
		`{"units":[{"id":"a","agents":[]},{"id":"a","agents":[]}],"links":[]}`:                                                   `units[1] (id "a"): id used twice`,
		`{"units":[{"id":"a","agents":[]}],"links":[{"a":"a","b":"z","charge_per_kwh":0,"max_w":1}]}`:                            `links[0] (a–z): unit "z" unknown`,
		`{"units":[{"id":"a","agents":[]},{"id":"b","agents":[]}],"links":[{"a":"a","b":"b","charge_per_kwh":0}]}`:               `links[0]: max_w missing`,
		`{"units":[{"id":"a","agents":[{"id":"x","kind":"pv","forecast_w":[1],"cost_per_kwh":0,"cost_per_kwh":1}]}],"links":[]}`: `units[0].agents[0].cost_per_kwh: key "cost_per_kwh" appears twice`,
		`{"periods":1,"units":[{"id":"a","agents":[{"id":"x","kind":"pv","forecast_w":[1]}]}],"links":[]}`:                       `units[0] (id "a"): agents[0] (id "x"): cost_per_kwh missing`,
	}
	for in, want := range bad {
		_, err := ReadCommunity(strings.NewReader(in))
		checkReaderError(t, in, err, want)
	}
}

func FuzzReadCommunity(f *testing.F) {
	f.Add([]byte(`{"periods":1,"units":[{"id":"a","agents":[{"id":"pv","kind":"pv","forecast_w":[500],"cost_per_kwh":0.01}]},{"id":"b","agents":[{"id":"h","kind":"load","demand_w":[300],"value_per_kwh":0.5}]}],"links":[{"a":"a","b":"b","charge_per_kwh":0.01,"max_w":1000}]}`))
	f.Add([]byte(`{"units":[],"links":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadCommunity(bytes.NewReader(data))
		if err != nil || c.Periods > 6 || len(c.Units) > 6 {
			return
		}
		if _, err := SolveCommunity(c); err != nil {
			t.Fatalf("valid community not solved: %v", err)
		}
	})
}
