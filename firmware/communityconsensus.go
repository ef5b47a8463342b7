package firmware

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fractals-energy/fractals/auction"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/units"
	"github.com/fractals-energy/fractals/mesh"
)

// MethodConsensus clears each interval with no centre: every unit runs its own auction.ConsensusPeer
// against its mesh neighbours and the peers' messages travel over the community's in-memory mesh.
const MethodConsensus auction.Method = "consensus"

// linkMaxW bounds the power one trade may carry over one mesh link in each direction: the service
// cable of a house, well above what one unit exchanges.
const linkMaxW units.Watts = 20000

// The negotiation's time bounds on the mesh's clock: a peer stops at consensusStopBy (committing the
// iteration it reached) and gives up with no trades at consensusDeadline, both well inside the
// shortest market interval.
const (
	consensusStep     = 5 * time.Millisecond
	consensusStopBy   = 2 * time.Minute
	consensusDeadline = 3 * time.Minute
)

// consensusMarket runs the units' market peers over the readings mesh's network (code CodeMarket),
// driven deterministically: the mesh delivers on its simulated clock in steps of consensusStep and
// every peer is stepped with what arrived, in unit order.
type consensusMarket struct {
	m      *readingsMesh
	subs   []mesh.Subscription
	index  map[mesh.Address]int
	names  []string
	links  []auction.Link
	hops   int
	silent map[int]bool
	charge func(i, j int) units.PricePerKWh
	parts  int // connected parts of the mesh at the last relink
	// adversary, when set, attacks the market from its unit (see Adversary); lastSent is its first
	// payload of the previous interval, what it replays.
	adversary          *Adversary
	replay, nextReplay map[string][]byte
	// refused counts market messages the honest peers refused (another interval, not a neighbour,
	// malformed).
	refused  int
	attacks  AttackSummary
	forgeSeq uint64
	// Messages and Bytes are the market messages the peers handed to the mesh.
	messages, bytes int
	// lastDuration is how long the last negotiation took on the mesh's clock (until every peer had
	// its result).
	lastDuration time.Duration
}

// newConsensusMarket links every unit to its mesh neighbours, each link charged by the feeder's
// electrical distance between the two units (charge(i, j)).
func newConsensusMarket(m *readingsMesh, names []string, charge func(i, j int) units.PricePerKWh, silent []int) *consensusMarket {
	c := &consensusMarket{m: m, index: map[mesh.Address]int{}, names: names, silent: map[int]bool{}, charge: charge}
	for _, s := range silent {
		c.silent[s] = true
	}
	for i, n := range m.nodes {
		c.index[n.Self()] = i
		c.subs = append(c.subs, n.Subscribe(mesh.CodeMarket))
	}
	c.relink()
	return c
}

// relink takes the market's links from the mesh's links as they are now: a unit trades with the
// neighbours it is connected to, so a partitioned mesh clears as separate markets.
func (c *consensusMarket) relink() {
	c.links = nil
	adj := make([][]int, len(c.names))
	for i, n := range c.m.nodes {
		for _, a := range c.m.net.Neighbours(n.Self()) {
			j, ok := c.index[a]
			if !ok || j <= i {
				continue
			}
			c.links = append(c.links, auction.Link{A: c.names[i], B: c.names[j], ChargePerKWh: c.charge(i, j), MaxW: linkMaxW})
			adj[i], adj[j] = append(adj[i], j), append(adj[j], i)
		}
	}
	c.hops = max(1, diameter(adj)) // the longest path inside any part
	c.parts = components(adj)
}

// components counts the connected parts of the graph.
func components(adj [][]int) int {
	seen := make([]bool, len(adj))
	parts := 0
	for s := range adj {
		if seen[s] {
			continue
		}
		parts++
		seen[s] = true
		stack := []int{s}
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, w := range adj[v] {
				if !seen[w] {
					seen[w] = true
					stack = append(stack, w)
				}
			}
		}
	}
	return parts
}

// diameter is the longest shortest path of the graph, in links.
func diameter(adj [][]int) int {
	d := 0
	for s := range adj {
		dist := make([]int, len(adj))
		for i := range dist {
			dist[i] = -1
		}
		dist[s] = 0
		queue := []int{s}
		for len(queue) > 0 {
			v := queue[0]
			queue = queue[1:]
			for _, w := range adj[v] {
				if dist[w] < 0 {
					dist[w] = dist[v] + 1
					d = max(d, dist[w])
					queue = append(queue, w)
				}
			}
		}
	}
	return d
}

// community is the interval's bilateral market of the given units (their agents per unit) over the
// links between them that both ends take part in.
func (c *consensusMarket) community(periods int, hours float64, agents [][]auction.Agent, only func(i int) bool) auction.Community {
	com := auction.Community{Periods: periods, PeriodHours: hours}
	in := map[string]bool{}
	for i, a := range agents {
		if only(i) {
			com.Units = append(com.Units, auction.Unit{ID: c.names[i], Agents: a})
			in[c.names[i]] = true
		}
	}
	for _, l := range c.links {
		if in[l.A] && in[l.B] {
			com.Links = append(com.Links, l)
		}
	}
	return com
}

// negotiate runs one interval: a peer per unit that is not silent, the messages over the mesh, until
// every peer has its result or the deadline has passed. It returns each unit's result (nil: none).
func (c *consensusMarket) negotiate(now time.Time, com auction.Community) ([]*auction.IntervalResult, error) {
	if now.After(c.m.clk.Now()) {
		c.m.clk.AdvanceTo(now)
	}
	t0 := c.m.clk.Now()
	c.replay, c.nextReplay = c.nextReplay, map[string][]byte{}
	peers := make([]*auction.ConsensusPeer, len(c.names))
	results := make([]*auction.IntervalResult, len(c.names))
	byName := map[string]int{}
	for i, n := range c.names {
		byName[n] = i
	}
	full := c.community(com.Periods, com.PeriodHours, agentsOf(com, c.names), func(int) bool { return true })
	waiting := 0
	for _, u := range com.Units {
		i := byName[u.ID]
		if c.silent[i] {
			continue // its market has crashed: it never answers, its neighbours drop it
		}
		p, err := auction.NewConsensusPeer(auction.PeerConfig{ID: u.ID, Interval: uint64(now.Unix()), Periods: com.Periods,
			PeriodHours: com.PeriodHours, Agents: u.Agents, Neighbours: full.Neighbours(u.ID), Hops: c.hops, Start: t0,
			StopBy: t0.Add(consensusStopBy), Deadline: t0.Add(consensusDeadline)})
		if err != nil {
			return nil, err
		}
		peers[i] = p
		waiting++
	}
	for waiting > 0 {
		for i, p := range peers {
			if p == nil {
				continue
			}
			rd := p.Ready()
			for _, out := range rd.Messages {
				c.messages++
				c.bytes += len(out.Payload)
				// A refused send (queue full) is a lost message: the peer resends after ResendAfter.
				j, ok := byName[out.To]
				if !ok {
					continue
				}
				if c.adversary != nil && i == c.adversary.Unit && c.nextReplay[out.To] == nil {
					c.nextReplay[out.To] = out.Payload
				}
				_ = c.m.nodes[i].Send(c.m.nodes[j].Self(), mesh.CodeMarket, out.Payload)
			}
			if rd.Result != nil && results[i] == nil {
				results[i] = rd.Result
				waiting--
			}
		}
		if waiting == 0 {
			c.lastDuration = c.m.clk.Now().Sub(t0)
			break
		}
		if c.m.clk.Now().After(t0.Add(consensusDeadline + time.Second)) {
			return results, fmt.Errorf("market interval %v: %d peers without a result after the deadline", now, waiting)
		}
		if c.adversary != nil && peers[c.adversary.Unit] != nil {
			c.attack()
		}
		c.m.net.Deliver(c.m.clk.Now().Add(consensusStep))
		at := c.m.clk.Now()
		for i, sub := range c.subs {
			c.drain(i, sub, peers[i], at)
		}
		for _, p := range peers {
			if p != nil {
				p.Tick(at)
			}
		}
	}
	return results, nil
}

// drain steps peer with every market message waiting for unit i. Errors are a late message for an
// iteration already passed or one from a unit that is not a neighbour: the peer has refused it.
func (c *consensusMarket) drain(i int, sub mesh.Subscription, p *auction.ConsensusPeer, at time.Time) {
	for {
		select {
		case msg := <-sub.C():
			j, ok := c.index[msg.From]
			if p == nil || !ok {
				continue
			}
			if err := p.Step(c.names[j], msg.Payload, at); err != nil && (c.adversary == nil || i != c.adversary.Unit) {
				c.refused++
			}
		default:
			return
		}
	}
}

func (c *consensusMarket) close() {
	for _, s := range c.subs {
		s.Close()
	}
}

func agentsOf(com auction.Community, names []string) [][]auction.Agent {
	out := make([][]auction.Agent, len(names))
	for _, u := range com.Units {
		for i, n := range names {
			if n == u.ID {
				out[i] = u.Agents
			}
		}
	}
	return out
}

// commitConsensus turns the peers' results into the binding period's schedules and trades: each
// unit's grid agent trades with the utility at the tariff, and every committed trade of period 0 is
// recorded once from its buyer's side, checked against the seller's record (same power, same price,
// bit for bit). It returns the trades whose two sides disagree (named) and the mean price paid.
func commitConsensus(names []string, results []*auction.IntervalResult, links []auction.Link, imp, exp units.PricePerKWh,
	from time.Time, h time.Duration) (cleared, []string) {
	interval := from.Unix()
	c := cleared{interval: interval, schedules: make([]fractals.Schedule, len(names))}
	hours := h.Hours()
	charge := map[[2]string]units.PricePerKWh{}
	for _, l := range links {
		charge[[2]string{l.A, l.B}], charge[[2]string{l.B, l.A}] = l.ChargePerKWh, l.ChargePerKWh
	}
	index := map[string]int{}
	for i, n := range names {
		index[n] = i
	}
	var mismatches []string
	var paid, energy float64
	for i, name := range names {
		r := results[i]
		if r == nil || !r.Converged && len(r.Trades) == 0 && len(r.Schedules) == 0 {
			continue // dropped or failed: it runs on its own this interval
		}
		net, ev, grid := bindingPeriod(r)
		c.schedules[i] = fractals.Schedule{Start: from, End: from.Add(h), NetExchange: units.Watts(net), EV: units.Watts(ev)}
		if grid < -0.5 {
			c.trades = append(c.trades, fractals.Trade{Interval: interval, ID: "grid>" + name, Seller: fractals.GridAccount, Buyer: name,
				Energy: units.WattHours(-grid * hours), Price: imp})
		} else if grid > 0.5 {
			c.trades = append(c.trades, fractals.Trade{Interval: interval, ID: name + ">grid", Seller: name, Buyer: fractals.GridAccount,
				Energy: units.WattHours(grid * hours), Price: exp})
		}
		for _, t := range r.Trades {
			if t.Period != 0 || t.BuyW <= 0 {
				continue
			}
			if !sellerAgrees(results, index, name, t) {
				mismatches = append(mismatches, fmt.Sprintf("interval %d: %s buys %.3f W from %s at %v, the seller's record differs",
					interval, name, float64(t.BuyW), t.Partner, float64(t.PricePerKWh)))
				continue
			}
			if float64(t.BuyW) < 1e-3 {
				continue
			}
			c.trades = append(c.trades, fractals.Trade{Interval: interval, ID: t.Partner + ">" + name, Seller: t.Partner, Buyer: name,
				Energy: units.WattHours(float64(t.BuyW) * hours), Price: t.PricePerKWh, NetworkCharge: charge[[2]string{t.Partner, name}]})
			paid += float64(t.BuyW) * float64(t.PricePerKWh)
			energy += float64(t.BuyW)
		}
	}
	if energy > 0 {
		c.price = units.PricePerKWh(paid / energy)
	}
	return c, mismatches
}

// sellerAgrees is whether the partner's record of the buyer's trade t is its mirror image.
func sellerAgrees(results []*auction.IntervalResult, index map[string]int, buyer string, t auction.Trade) bool {
	j, ok := index[t.Partner]
	if !ok || results[j] == nil {
		return false
	}
	for _, s := range results[j].Trades {
		if s.Partner == buyer && s.Period == t.Period {
			return s.BuyW == -t.BuyW && s.PricePerKWh == t.PricePerKWh
		}
	}
	return false
}

// dumpCommunity writes the interval's market where `fractals auction solve --in FILE` reads it.
func dumpCommunity(dir string, from time.Time, com auction.Community) error {
	path := filepath.Join(dir, fmt.Sprintf("market-%d.json", from.Unix()))
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--dump-market: %w", err)
	}
	if err := auction.WriteCommunity(f, com); err != nil {
		f.Close()
		return fmt.Errorf("--dump-market %s: %w", path, err)
	}
	return f.Close()
}

// clearConsensus runs the interval's market over the mesh, compares it with the central optimum of
// the same bids among the units that took part, and hands every unit its schedule.
func (r *communityRun) clearConsensus(now time.Time, agents [][]auction.Agent) error {
	mc := &r.o.Market
	cm := r.consensus
	cm.relink()
	r.interval.Parts = cm.parts
	if cm.parts > 1 {
		r.res.Market.Partitioned++
	}
	active := func(i int) bool { return !cm.silent[i] }
	all := cm.community(mc.Periods(), mc.Interval.Hours(), agents, func(int) bool { return true })
	if r.o.DumpMarket != "" {
		if err := dumpCommunity(r.o.DumpMarket, now, all); err != nil {
			return err
		}
	}
	mr := &r.res.Market
	mr.Intervals++
	results, err := cm.negotiate(now, all)
	if err != nil {
		return err
	}
	var welfare float64
	iters, cleared, dropped := 0, true, 0
	for i, res := range results {
		if !active(i) {
			continue
		}
		if res == nil || !res.Converged {
			cleared = false
			continue
		}
		welfare += res.Welfare()
		iters = max(iters, res.Iterations)
		mr.MaxImbalanceW = max(mr.MaxImbalanceW, res.ImbalanceW)
		dropped += len(res.Dropped)
	}
	mr.Dropped += dropped
	c, mismatches := commitConsensus(r.names, results, cm.links, mc.ImportPriceAt(now), mc.ExportPrice, now, mc.Interval)
	r.current = c
	mr.TradeMismatches += len(mismatches)
	r.res.Payments.Disagreements = appendCapped(r.res.Payments.Disagreements, mismatches)
	for i, m := range r.members {
		m.unit.SetSchedule(c.schedules[i])
	}
	mr.Trades += len(c.trades)
	r.interval.Trades, r.interval.Price, r.interval.Iterations = len(c.trades), float64(c.price), iters
	r.interval.NegotiationSeconds = cm.lastDuration.Seconds()
	r.negotiation += cm.lastDuration
	mr.NegotiationMaxS = max(mr.NegotiationMaxS, cm.lastDuration.Seconds())
	if c.price > 0 {
		mr.PriceMin = min(mr.PriceMin, float64(c.price))
		mr.PriceMax = max(mr.PriceMax, float64(c.price))
	}
	if !cleared {
		return nil
	}
	mr.Cleared++
	r.interval.Cleared = true
	r.iters += iters
	mr.IterationsMax = max(mr.IterationsMax, iters)
	central, err := auction.SolveCommunity(cm.community(mc.Periods(), mc.Interval.Hours(), agents, active))
	if err != nil {
		r.uncheckedInterval(now, err)
		return nil
	}
	r.interval.EquilibriumPrice = meanFirstPrice(central.Prices)
	mr.Welfare += welfare
	mr.Central += central.Welfare
	// An interval's welfare may be near zero (a night bought at the tariff), where a relative gap says
	// nothing: the gap is relative to the welfare but at least one unit of money.
	gap := math.Abs(central.Welfare - welfare)
	mr.MaxGapAbs = max(mr.MaxGapAbs, gap)
	r.interval.Gap = gap / math.Max(1, math.Abs(central.Welfare))
	mr.MaxGap = max(mr.MaxGap, r.interval.Gap)
	return nil
}

// meanFirstPrice is the mean over the units of their binding period's price (the balance dual of the
// central optimum), money per kWh.
func meanFirstPrice(prices map[string][]float64) float64 {
	ids := make([]string, 0, len(prices))
	for id := range prices {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var sum float64
	var n int
	for _, id := range ids {
		if p := prices[id]; len(p) > 0 {
			sum += p[0]
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// bindingPeriod splits a unit's schedules of the first (binding) period into its net exchange with
// the community (every agent but the grid), its EV's power and its exchange with the grid, in W.
func bindingPeriod(r *auction.IntervalResult) (net, ev, grid float64) {
	ids := make([]string, 0, len(r.Schedules))
	for id := range r.Schedules {
		ids = append(ids, id)
	}
	sort.Strings(ids) // map order must not reach the sums
	for _, id := range ids {
		s := r.Schedules[id]
		if len(s) == 0 {
			continue
		}
		switch {
		case strings.HasSuffix(id, "/grid"):
			grid = s[0]
		default:
			net += s[0]
			if strings.HasSuffix(id, "/ev") {
				ev = s[0]
			}
		}
	}
	return net, ev, grid
}
