package firmware

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/auction"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/mesh"
)

// loopbackMarkets starts n simulated daemons, each with its own devp2p node on loopback (all linked)
// and its consensus market, and waits until every node sees the others.
func loopbackMarkets(t testing.TB, n int, horizon time.Duration) ([]*Daemon, []*UnitMarket) {
	t.Helper()
	nodes, err := StartLoopbackCommunity(n, "fractals-market-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, nd := range nodes {
			nd.Close()
		}
	})
	want := make([]int, n)
	for i := range want {
		want[i] = n - 1
	}
	waitForPeers(t, nodes, want)
	return marketsOn(t, nodes, horizon, 2)
}

// marketsOn builds a simulated daemon and its market on every node.
func marketsOn(t testing.TB, nodes []*mesh.Node, horizon time.Duration, hops int) ([]*Daemon, []*UnitMarket) {
	t.Helper()
	mc := fractals.DefaultMarketConfig()
	mc.Horizon = horizon
	var daemons []*Daemon
	var markets []*UnitMarket
	for i, nd := range nodes {
		o := DefaultSimOptions()
		o.Seed += uint64(i)
		d, err := NewSimDaemon(o, clock.Real{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		d.Tick(context.Background())
		m, err := NewSimMarket(d, o, nd, mc, UnitMarketOptions{Hops: hops}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		d.AttachMesh(nd)
		d.AttachMarket(m)
		daemons, markets = append(daemons, d), append(markets, m)
	}
	return daemons, markets
}

// waitForPeers waits (generously: the machine may be loaded) until node i has want[i] connected peers.
func waitForPeers(t testing.TB, nodes []*mesh.Node, want []int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for i, nd := range nodes {
		want := want[i]
		for {
			connected := 0
			for _, p := range nd.Peers() {
				if p.Connected {
					connected++
				}
			}
			if connected >= want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s: %d connected peers, want %d", nd.Self().Hex(), connected, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// clearTogether runs one interval at every market at once and returns the results by unit id.
func clearTogether(t testing.TB, markets []*UnitMarket, start time.Time) map[string]*auction.IntervalResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	results := make([]*auction.IntervalResult, len(markets))
	errs := make([]error, len(markets))
	var wg sync.WaitGroup
	for i, m := range markets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = m.ClearInterval(ctx, start)
		}()
	}
	wg.Wait()
	out := map[string]*auction.IntervalResult{}
	for i, m := range markets {
		if errs[i] != nil {
			t.Fatalf("%s: %v", m.ID(), errs[i])
		}
		out[m.ID()] = results[i]
	}
	return out
}

// TestUnitMarketsClearOverDevp2p: three daemons' units negotiate over real devp2p on loopback; every
// peer converges, both sides of every trade agree bit for bit, each unit follows its committed
// schedule at its next cycle, and /api/market shows the interval.
func TestUnitMarketsClearOverDevp2p(t *testing.T) {
	daemons, markets := loopbackMarkets(t, 3, 2*time.Hour)
	start := time.Now().Truncate(15 * time.Minute)
	for round := range 2 { // the second interval reuses the same peers and subscriptions
		results := clearTogether(t, markets, start.Add(time.Duration(round)*15*time.Minute))
		for id, r := range results {
			if !r.Converged || len(r.Dropped) != 0 {
				t.Fatalf("%s: %s after %d iterations, dropped %v", id, r.Reason, r.Iterations, r.Dropped)
			}
		}
		checkMirrored(t, results)
	}
	for i, d := range daemons {
		d.Tick(context.Background())
		got := d.Unit().Status().State.Schedule
		want := markets[i].Last().Schedule
		if got.NetExchange != want.NetExchangeW || got.End.Sub(got.Start) != 15*time.Minute {
			t.Fatalf("unit %d follows %+v, the market committed %+v", i, got, want)
		}
	}
	rec := httptest.NewRecorder()
	daemons[0].Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/market", nil))
	var body struct {
		ID   string        `json:"id"`
		Last *MarketStatus `json:"last"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("/api/market: %d %v\n%s", rec.Code, err, rec.Body.String())
	}
	if body.Last == nil || !body.Last.Converged || len(body.Last.Neighbours) != 2 || body.ID != markets[0].ID() {
		t.Fatalf("/api/market: %s", rec.Body.String())
	}
	t.Logf("unit 0: %d iterations in %v, %d trades in the binding period, imbalance %.3f W", body.Last.Iterations,
		body.Last.Took, len(body.Last.Trades), body.Last.ImbalanceW)
}

// checkMirrored: every trade is its partner's with the opposite quantity and the same price.
func checkMirrored(t testing.TB, results map[string]*auction.IntervalResult) {
	t.Helper()
	type key struct {
		self, partner string
		period        int
	}
	trades := map[key]auction.Trade{}
	for id, r := range results {
		for _, tr := range r.Trades {
			trades[key{id, tr.Partner, tr.Period}] = tr
		}
	}
	for k, tr := range trades {
		other, ok := trades[key{k.partner, k.self, k.period}]
		if !ok || other.BuyW != -tr.BuyW || other.PricePerKWh != tr.PricePerKWh {
			t.Fatalf("%s–%s period %d: %+v, partner's %+v (recorded %v)", k.self, k.partner, k.period, tr, other, ok)
		}
	}
}

// FuzzUnitMarketRoute: whatever a neighbour sends on the market code, the daemon's market neither
// panics nor keeps more than its bound of early messages, and the interval it is clearing still ends.
func FuzzUnitMarketRoute(f *testing.F) {
	iterate, _ := auction.PeerMessage{Kind: auction.KindIterate, Interval: 1800, Iteration: 0, Stop: auction.NoStop,
		SellKW: make([]float64, 4), BuyKW: make([]float64, 4)}.MarshalBinary()
	ahead, _ := auction.PeerMessage{Kind: auction.KindIterate, Interval: 1 << 40, Stop: auction.NoStop,
		SellKW: []float64{1}, BuyKW: []float64{0}}.MarshalBinary()
	leave, _ := auction.PeerMessage{Kind: auction.KindLeave, Interval: 1800}.MarshalBinary()
	fractal, _ := auction.FractalMessage{}.MarshalBinary()
	for _, seed := range [][]byte{iterate, ahead, leave, fractal, {1, 1, 0}, nil} {
		f.Add(seed)
	}
	clk := clock.NewSim(time.Unix(1800, 0))
	net := mesh.NewMemNetwork(clk, 1, mesh.LinkProfile{}, mesh.DefaultOptions("fuzz"))
	self, other := net.AddNode(mesh.SeededKey(1, 0)), net.AddNode(mesh.SeededKey(1, 1))
	if err := net.Connect(self.Self(), other.Self()); err != nil {
		f.Fatal(err)
	}
	o := DefaultSimOptions()
	d, err := NewSimDaemon(o, clk, nil)
	if err != nil {
		f.Fatal(err)
	}
	mc := fractals.DefaultMarketConfig()
	mc.Horizon = time.Hour
	m, err := NewSimMarket(d, o, self, mc, UnitMarketOptions{Hops: 1}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(m.Close)
	f.Fuzz(func(t *testing.T, payload []byte) {
		peer, err := auction.NewConsensusPeer(auction.PeerConfig{ID: m.ID(), Interval: 1800, Periods: 4, PeriodHours: 1,
			Agents: m.bid(time.Unix(1800, 0)), Neighbours: []auction.Neighbour{{ID: other.Self().Hex(), MaxW: 1000}},
			Hops: 1, Start: clk.Now(), Deadline: clk.Now().Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		msg := mesh.Message{Code: mesh.CodeMarket, From: other.Self(), Via: other.Self(), Payload: payload}
		m.route(msg, 1800, peer)
		m.route(msg, 0, nil)
		for iv, q := range m.early {
			if len(q) > maxEarlyMessages || len(m.early) > 4 {
				t.Fatalf("early queue of %d: %d messages, %d intervals", iv, len(q), len(m.early))
			}
		}
		peer.Tick(clk.Now().Add(time.Minute))
		if peer.Result() == nil {
			t.Fatal("the interval did not end at its deadline")
		}
	})
}
