package auction

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// netHarness routes the peers' messages in simulated time: each message arrives after a latency plus
// a seeded jitter, or is lost with a seeded probability; peers are ticked every tickEvery. Nothing in it
// touches a real clock, so every run is deterministic.
type netHarness struct {
	peers     map[string]MarketPeer
	order     []string
	results   map[string]*IntervalResult
	now       time.Time
	queue     msgQueue
	seq       int
	rng       *rand.Rand
	drop      float64
	latency   time.Duration
	jitter    time.Duration
	tickEvery time.Duration
	nextTick  time.Time
	dead      map[string]bool
	delivered int
	lost      int
	stepErrs  int
	killAt    map[string]int // kill a peer after it has sent this many messages
}

type inflight struct {
	at       time.Time
	seq      int
	from, to string
	payload  []byte
}

type msgQueue []inflight

func (q msgQueue) Len() int { return len(q) }
func (q msgQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q msgQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *msgQueue) Push(x any)   { *q = append(*q, x.(inflight)) }
func (q *msgQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

var harnessStart = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func newHarness(seed uint64) *netHarness {
	return &netHarness{peers: map[string]MarketPeer{}, results: map[string]*IntervalResult{}, now: harnessStart,
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b9)), latency: 5 * time.Millisecond, tickEvery: 50 * time.Millisecond,
		nextTick: harnessStart, dead: map[string]bool{}, killAt: map[string]int{}}
}

func (h *netHarness) add(id string, p MarketPeer) {
	h.peers[id] = p
	h.order = append(h.order, id)
	slices.Sort(h.order)
}

// collect takes every peer's Ready and puts its messages on the wire.
func (h *netHarness) collect() {
	for _, id := range h.order {
		if h.dead[id] {
			continue
		}
		rd := h.peers[id].Ready()
		if rd.Result != nil {
			h.results[id] = rd.Result
		}
		for _, m := range rd.Messages {
			if n, ok := h.killAt[id]; ok {
				if n <= 0 {
					h.dead[id] = true
					break
				}
				h.killAt[id] = n - 1
			}
			if h.drop > 0 && h.rng.Float64() < h.drop {
				h.lost++
				continue
			}
			delay := h.latency
			if h.jitter > 0 {
				delay += time.Duration(h.rng.Int64N(int64(h.jitter)))
			}
			h.seq++
			heap.Push(&h.queue, inflight{at: h.now.Add(delay), seq: h.seq, from: id, to: m.To, payload: m.Payload})
		}
	}
}

// run delivers messages and ticks until every live peer has a result or the simulated time runs out.
func (h *netHarness) run(t testing.TB, limit time.Duration) {
	t.Helper()
	end := h.now.Add(limit)
	h.collect()
	for h.now.Before(end) && !h.allDone() {
		if h.queue.Len() > 0 && h.queue[0].at.Before(h.nextTick) {
			m := heap.Pop(&h.queue).(inflight)
			h.now = m.at
			if !h.dead[m.to] {
				if err := h.peers[m.to].Step(m.from, m.payload, h.now); err != nil {
					h.stepErrs++
				}
				h.delivered++
			}
		} else {
			h.now = h.nextTick
			h.nextTick = h.nextTick.Add(h.tickEvery)
			for _, id := range h.order {
				if !h.dead[id] {
					h.peers[id].Tick(h.now)
				}
			}
		}
		h.collect()
	}
	if !h.allDone() {
		t.Fatalf("after %v of simulated time %d of %d peers have a result", limit, len(h.results), len(h.peers)-len(h.dead))
	}
}

func (h *netHarness) allDone() bool {
	for _, id := range h.order {
		if !h.dead[id] && h.results[id] == nil {
			return false
		}
	}
	return true
}

// Topologies of the tests' meshes.
func lineLinks(n int) [][2]int {
	var l [][2]int
	for i := 0; i+1 < n; i++ {
		l = append(l, [2]int{i, i + 1})
	}
	return l
}

func ringLinks(n int) [][2]int {
	l := lineLinks(n)
	if n > 2 {
		l = append(l, [2]int{n - 1, 0})
	}
	return l
}

// geometricLinks places n units at seeded random points of the unit square and links every pair closer
// than radius, then joins any unit left in another component to its nearest unit of the first, so the
// mesh is connected.
func geometricLinks(n int, radius float64, rng *rand.Rand) [][2]int {
	xs, ys := make([]float64, n), make([]float64, n)
	for i := range n {
		xs[i], ys[i] = rng.Float64(), rng.Float64()
	}
	dist := func(i, j int) float64 { return math.Hypot(xs[i]-xs[j], ys[i]-ys[j]) }
	var l [][2]int
	for i := range n {
		for j := i + 1; j < n; j++ {
			if dist(i, j) < radius {
				l = append(l, [2]int{i, j})
			}
		}
	}
	for {
		comp := components(n, l)
		if slices.Max(comp) == 0 {
			return l
		}
		best, bi, bj := math.Inf(1), -1, -1
		for i := range n {
			for j := range n {
				if comp[i] == 0 && comp[j] != 0 && dist(i, j) < best {
					best, bi, bj = dist(i, j), i, j
				}
			}
		}
		l = append(l, [2]int{bi, bj})
	}
}

func components(n int, links [][2]int) []int {
	comp := make([]int, n)
	for i := range comp {
		comp[i] = -1
	}
	adj := make([][]int, n)
	for _, e := range links {
		adj[e[0]] = append(adj[e[0]], e[1])
		adj[e[1]] = append(adj[e[1]], e[0])
	}
	c := 0
	for s := range n {
		if comp[s] >= 0 {
			continue
		}
		stack := []int{s}
		comp[s] = c
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, w := range adj[v] {
				if comp[w] < 0 {
					comp[w] = c
					stack = append(stack, w)
				}
			}
		}
		c++
	}
	return comp
}

// testCommunity builds n seeded units over periods: every unit has a critical load and a service load;
// most have PV, some a battery, some an EV with a deadline, and (when grid) every third a grid
// connection. Links carry a charge growing with a seeded electrical distance.
func testCommunity(n, periods int, links [][2]int, grid bool, rng *rand.Rand) Community {
	c := Community{Periods: periods, PeriodHours: 1}
	sun := func(t int) float64 { return math.Max(0, math.Sin(math.Pi*(float64(t)+0.5)/float64(periods))) }
	for i := range n {
		u := Unit{ID: fmt.Sprintf("u%02d", i)}
		crit, svc := make([]units.Watts, periods), make([]units.Watts, periods)
		for t := range periods {
			crit[t] = units.Watts(200 + 400*rng.Float64())
			svc[t] = units.Watts(50 + 100*rng.Float64())
		}
		u.Agents = append(u.Agents,
			Agent{ID: "critical", Kind: KindLoad, DemandW: crit, ValuePerKWh: 1.5},
			Agent{ID: "wifi", Kind: KindLoad, DemandW: svc, ValuePerKWh: units.PricePerKWh(0.25 + 0.2*rng.Float64())})
		if i%4 != 3 {
			pv := make([]units.Watts, periods)
			peak := 1000 + 3000*rng.Float64()
			for t := range periods {
				pv[t] = units.Watts(peak * sun(t))
			}
			u.Agents = append(u.Agents, Agent{ID: "pv", Kind: KindPV, ForecastW: pv, CostPerKWh: units.PricePerKWh(0.02 + 0.03*rng.Float64())})
		}
		if i%3 == 0 {
			u.Agents = append(u.Agents, Agent{ID: "battery", Kind: KindBattery, CapacityWh: 5000, InitialWh: units.WattHours(1000 + 2000*rng.Float64()),
				MaxChargeW: 2000, MaxDischargeW: 2000, ChargeEfficiency: 0.95, DischargeEfficiency: 0.95, CostPerKWh: 0.03})
		}
		if i%5 == 1 {
			u.Agents = append(u.Agents, Agent{ID: "ev", Kind: KindFlexibleLoad, EnergyWh: units.WattHours(2000 + 3000*rng.Float64()), MaxW: 3000,
				Deadline: periods, ValuePerKWh: units.PricePerKWh(0.4 + 0.2*rng.Float64())})
		}
		if grid && i%3 == 2 {
			imp, exp := make([]units.PricePerKWh, periods), make([]units.PricePerKWh, periods)
			for t := range periods {
				imp[t], exp[t] = 0.30, 0.05
			}
			u.Agents = append(u.Agents, Agent{ID: "grid", Kind: KindGrid, ImportPrice: imp, ExportPrice: exp, MaxImportW: 5000, MaxExportW: 5000})
		}
		c.Units = append(c.Units, u)
	}
	for _, e := range links {
		c.Links = append(c.Links, Link{A: c.Units[e[0]].ID, B: c.Units[e[1]].ID,
			ChargePerKWh: units.PricePerKWh(0.005 + 0.01*rng.Float64()), MaxW: 6000})
	}
	return c
}

// startPeers creates one consensus peer per unit of c on the harness.
func startPeers(t testing.TB, h *netHarness, c Community, tune func(*PeerConfig)) map[string]*ConsensusPeer {
	t.Helper()
	out := map[string]*ConsensusPeer{}
	for _, u := range c.Units {
		cfg := PeerConfig{ID: u.ID, Interval: 7, Periods: c.Periods, PeriodHours: c.PeriodHours, Agents: u.Agents,
			Neighbours: c.Neighbours(u.ID), Hops: len(c.Units), Start: h.now}
		if tune != nil {
			tune(&cfg)
		}
		p, err := NewConsensusPeer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out[u.ID] = p
		h.add(u.ID, p)
	}
	return out
}
