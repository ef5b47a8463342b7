package firmware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/fractals-energy/fractals/auction"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/solar"
	"github.com/fractals-energy/fractals/internal/units"
	"github.com/fractals-energy/fractals/mesh"
)

// UnitMarket is a running unit's consensus market: at every market interval it bids the unit's agents
// (fractals.BuildAgents from its status and forecasts), negotiates with its connected mesh neighbours
// by an auction.ConsensusPeer over the unit's mesh (code CodeMarket, signed by the mesh), and hands the
// committed first period to the unit as its schedule. Messages of an interval not yet started wait for
// it; a unit that comes up mid-interval waits for the next one.
type UnitMarket struct {
	unit *Unit
	node mesh.Mesh
	clk  clock.Clock
	mc   fractals.MarketConfig
	opt  UnitMarketOptions
	log  *slog.Logger
	sub  mesh.Subscription

	pv   fractals.PVForecast
	load fractals.LoadProfile

	// early holds messages of intervals ahead of the one running; prev is the last interval's peer,
	// which still answers a neighbour that missed its final iterate.
	early map[uint64][]mesh.Message
	prev  *auction.ConsensusPeer

	mu   sync.Mutex
	last *MarketStatus
}

// UnitMarketOptions tune the negotiation; zero values take the defaults.
type UnitMarketOptions struct {
	// Hops is at least the diameter of the community's mesh, in links (default 8); every unit of a
	// community must use the same value.
	Hops int
	// NetworkRate is the network charge per kWh on every trade with a neighbour (default 0.01).
	NetworkRate units.PricePerKWh
	// StopBy and Deadline bound the negotiation after its start (defaults: a tenth and a fifth of the
	// market interval): by StopBy the peers commit the iteration they reached, by Deadline they give up.
	StopBy, Deadline time.Duration
	// Tick is how often the peer is ticked for resends and silence (default 20 ms).
	Tick time.Duration
	// ResendAfter (default 1 s) and SilenceTimeout (default 10 s) are the peer's: devp2p links are
	// reliable, so a resend only helps after a link dropped, and every needless one costs a signature
	// and, on a loaded unit, more delay.
	ResendAfter, SilenceTimeout time.Duration
	// StartWith, when positive, makes Run clear the interval under way as soon as that many neighbours
	// are connected (or after startWait), before the next boundary: for units that start together,
	// such as the loopback community of make run. A unit joining a running community leaves it zero.
	StartWith int
}

// startWait is how long a StartWith unit waits for its neighbours before it clears with those it has.
const startWait = 30 * time.Second

func (o UnitMarketOptions) withDefaults(interval time.Duration) UnitMarketOptions {
	if o.Hops == 0 {
		o.Hops = 8
	}
	if o.NetworkRate == 0 {
		o.NetworkRate = 0.01
	}
	if o.StopBy == 0 {
		o.StopBy = interval / 10
	}
	if o.Deadline == 0 {
		o.Deadline = interval / 5
	}
	if o.Tick == 0 {
		o.Tick = 20 * time.Millisecond
	}
	if o.ResendAfter == 0 {
		o.ResendAfter = time.Second
	}
	if o.SilenceTimeout == 0 {
		o.SilenceTimeout = 10 * time.Second
	}
	return o
}

// MarketStatus is the last interval as GET /api/market shows it.
type MarketStatus struct {
	Interval   uint64          `json:"interval"`
	Start      time.Time       `json:"start"`
	Converged  bool            `json:"converged"`
	Reason     string          `json:"reason"`
	Iterations int             `json:"iterations"`
	ImbalanceW float64         `json:"imbalance_w"`
	Welfare    float64         `json:"welfare"`
	Neighbours []string        `json:"neighbours"`
	Dropped    []string        `json:"dropped,omitempty"`
	Messages   int             `json:"messages_sent"`
	Took       time.Duration   `json:"took_ns"`
	Schedule   ScheduleStatus  `json:"schedule"`
	Trades     []auction.Trade `json:"trades"` // the binding period's, with each neighbour
}

// ScheduleStatus is the committed net exchange the unit follows in the binding period.
type ScheduleStatus struct {
	NetExchangeW units.Watts `json:"net_exchange_w"`
	EVW          units.Watts `json:"ev_w"`
	GridW        units.Watts `json:"grid_w"` // positive: exported to the utility
}

// maxEarlyMessages bounds what a unit keeps for intervals that have not started (a flood is dropped).
const maxEarlyMessages = 4096

// NewUnitMarket subscribes to the mesh's market messages; Run (or ClearInterval) uses them. pv and
// latitude describe the unit's array for its PV forecast.
func NewUnitMarket(u *Unit, node mesh.Mesh, clk clock.Clock, mc fractals.MarketConfig, pv solar.PVConfig, latitude float64,
	opt UnitMarketOptions, log *slog.Logger) (*UnitMarket, error) {
	if err := mc.Validate(); err != nil {
		return nil, err
	}
	return &UnitMarket{unit: u, node: node, clk: clk, mc: mc, opt: opt.withDefaults(mc.Interval), log: log,
		sub: node.Subscribe(mesh.CodeMarket), pv: fractals.NewPVForecast(pv, latitude),
		load: fractals.NewLoadProfile(mc.Interval), early: map[uint64][]mesh.Message{}}, nil
}

// Close ends the subscription.
func (m *UnitMarket) Close() { m.sub.Close() }

// ID is the unit's name in the market: its mesh address.
func (m *UnitMarket) ID() string { return m.node.Self().Hex() }

// Last is the last interval's outcome, nil before the first.
func (m *UnitMarket) Last() *MarketStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// Run clears every market interval from the next boundary on until ctx ends, learning the forecasts
// from the unit's readings every minute in between.
func (m *UnitMarket) Run(ctx context.Context) error {
	observe := m.clk.NewTicker(observeEvery)
	defer observe.Stop()
	if m.opt.StartWith > 0 {
		m.waitForNeighbours(ctx, m.opt.StartWith)
		if ctx.Err() != nil {
			return nil
		}
		if _, err := m.ClearInterval(ctx, m.clk.Now().Truncate(m.mc.Interval)); err != nil && m.log != nil && ctx.Err() == nil {
			m.log.Warn("market interval", "err", err)
		}
	}
	for {
		now := m.clk.Now()
		next := now.Truncate(m.mc.Interval).Add(m.mc.Interval)
		timer := m.clk.NewTimer(next.Sub(now))
	wait:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil
			case <-observe.C():
				m.observe(m.clk.Now())
			case msg := <-m.sub.C():
				m.route(msg, 0, nil)
			case <-timer.C():
				break wait
			}
		}
		if _, err := m.ClearInterval(ctx, next); err != nil && !errors.Is(err, context.Canceled) {
			if m.log != nil {
				m.log.Warn("market interval", "start", next, "err", err)
			}
		}
	}
}

// waitForNeighbours waits until n neighbours are connected, at most startWait, keeping early messages.
func (m *UnitMarket) waitForNeighbours(ctx context.Context, n int) {
	poll := m.clk.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	until := m.clk.Now().Add(startWait)
	for len(m.neighbours()) < n && m.clk.Now().Before(until) {
		select {
		case <-ctx.Done():
			return
		case msg := <-m.sub.C():
			m.route(msg, 0, nil)
		case <-poll.C():
		}
	}
}

// observe teaches the forecasts the unit's last snapshot.
func (m *UnitMarket) observe(now time.Time) {
	s := m.unit.Status().Snapshot
	if s.PVAvailable.Good() {
		m.pv.Observe(now, s.PVAvailable.Value, observeEvery)
	}
	if d := s.Loads[fractals.LoadCritical].Demand; d.Good() {
		m.load.Observe(now, d.Value, observeEvery)
	}
}

// bid is the unit's agents for the interval starting at start.
func (m *UnitMarket) bid(start time.Time) []auction.Agent {
	n := m.mc.Periods()
	st := m.unit.Status()
	s := st.Snapshot
	if s.At.IsZero() {
		s.At = start
	}
	f := fractals.Forecasts{PV: m.pv.Forecast(start, n, m.mc.Interval),
		Critical: m.load.Forecast(start, n, m.mc.Interval, s.Loads[fractals.LoadCritical].Demand.Value),
		Services: [2]units.Watts{s.Loads[fractals.LoadWiFi].Demand.Value, s.Loads[fractals.LoadStorage].Demand.Value}}
	cfg := m.unit.cfg
	return fractals.BuildAgents(m.ID(), &m.mc, &cfg, st.State, &s, f, start)
}

// neighbours are the connected mesh peers, in address order.
func (m *UnitMarket) neighbours() []auction.Neighbour {
	var out []auction.Neighbour
	for _, p := range m.node.Peers() {
		if p.Connected {
			out = append(out, auction.Neighbour{ID: p.Address.Hex(), ChargePerKWh: m.opt.NetworkRate, MaxW: linkMaxW})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// route hands a market message to the peer of its interval: the running one (interval cur), the last
// one, or the queue of an interval ahead. Anything else is late or undecodable and is dropped.
func (m *UnitMarket) route(msg mesh.Message, cur uint64, peer *auction.ConsensusPeer) {
	pm, err := auction.DecodePeerMessage(msg.Payload)
	if err != nil {
		return
	}
	from, now := msg.From.Hex(), m.clk.Now()
	switch {
	case peer != nil && pm.Interval == cur:
		_ = peer.Step(from, msg.Payload, now) // refusals: not a neighbour, an old iteration
	case m.prev != nil && m.prev.Result() != nil && pm.Interval == m.prev.Result().Interval:
		_ = m.prev.Step(from, msg.Payload, now)
		m.send(m.prev.Ready())
	case pm.Interval > cur && len(m.early) < 4 && len(m.early[pm.Interval]) < maxEarlyMessages:
		m.early[pm.Interval] = append(m.early[pm.Interval], msg)
	}
}

// send hands the peer's messages to the mesh. A refused send is a lost message: the peer resends.
func (m *UnitMarket) send(rd auction.Ready) {
	for _, out := range rd.Messages {
		_ = m.node.Send(common.HexToAddress(out.To), mesh.CodeMarket, out.Payload)
	}
}

// ClearInterval negotiates the interval starting at start with the connected neighbours now, commits
// the result as the unit's schedule and returns it.
func (m *UnitMarket) ClearInterval(ctx context.Context, start time.Time) (*auction.IntervalResult, error) {
	began := m.clk.Now()
	interval := uint64(start.Unix())
	nbs := m.neighbours()
	peer, err := auction.NewConsensusPeer(auction.PeerConfig{ID: m.ID(), Interval: interval, Periods: m.mc.Periods(),
		PeriodHours: m.mc.Interval.Hours(), Agents: m.bid(start), Neighbours: nbs, Hops: m.opt.Hops, Start: began,
		StopBy: began.Add(m.opt.StopBy), Deadline: began.Add(m.opt.Deadline), ResendAfter: m.opt.ResendAfter,
		SilenceTimeout: m.opt.SilenceTimeout})
	if err != nil {
		return nil, err
	}
	for iv, msgs := range m.early {
		if iv <= interval {
			delete(m.early, iv)
		}
		if iv == interval {
			for _, msg := range msgs {
				m.route(msg, interval, peer)
			}
		}
	}
	tick := m.clk.NewTicker(m.opt.Tick)
	defer tick.Stop()
	for {
		rd := peer.Ready()
		m.send(rd)
		if rd.Result != nil {
			m.prev = peer
			m.commit(start, began, nbs, rd.Result)
			return rd.Result, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case msg := <-m.sub.C():
			m.route(msg, interval, peer)
		case <-tick.C():
			peer.Tick(m.clk.Now())
		}
	}
}

// commit makes the binding period of r the unit's schedule and records the interval for the API.
func (m *UnitMarket) commit(start, began time.Time, nbs []auction.Neighbour, r *auction.IntervalResult) {
	net, ev, grid := bindingPeriod(r)
	sch := ScheduleStatus{NetExchangeW: units.Watts(net), EVW: units.Watts(ev), GridW: units.Watts(grid)}
	if len(r.Schedules) > 0 {
		m.unit.CommitSchedule(fractals.Schedule{Start: start, End: start.Add(m.mc.Interval), NetExchange: sch.NetExchangeW, EV: sch.EVW})
	}
	st := &MarketStatus{Interval: r.Interval, Start: start, Converged: r.Converged, Reason: r.Reason, Iterations: r.Iterations,
		ImbalanceW: r.ImbalanceW, Welfare: r.Welfare(), Dropped: r.Dropped, Messages: r.MessagesSent,
		Took: m.clk.Since(began), Schedule: sch}
	for _, n := range nbs {
		st.Neighbours = append(st.Neighbours, n.ID)
	}
	for _, t := range r.Trades {
		if t.Period == 0 {
			st.Trades = append(st.Trades, t)
		}
	}
	m.mu.Lock()
	m.last = st
	m.mu.Unlock()
	if m.log != nil {
		m.log.Info("market interval", "start", start, "converged", r.Converged, "iterations", r.Iterations,
			"neighbours", len(nbs), "net_exchange_w", round(float64(sch.NetExchangeW)), "took", st.Took)
	}
}

// AttachMarket makes the daemon run the market (from Run) and serve its last interval on /api/market.
func (d *Daemon) AttachMarket(m *UnitMarket) { d.market = m }

func (d *Daemon) serveMarket(w http.ResponseWriter, _ *http.Request) {
	if d.market == nil {
		http.Error(w, "this unit runs no market (it needs a mesh and a market section)", http.StatusNotFound)
		return
	}
	last := d.market.Last()
	if last == nil {
		writeJSON(w, map[string]any{"id": d.market.ID(), "last": nil, "note": "no interval cleared yet: the first starts at the next interval boundary"})
		return
	}
	writeJSON(w, map[string]any{"id": d.market.ID(), "last": last})
}

// CommitSchedule hands the unit a schedule from another goroutine (the market's): it takes effect at
// the next control cycle.
func (u *Unit) CommitSchedule(s fractals.Schedule) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.nextSchedule = &s
}

// NewSimMarket is the market of a simulated daemon built from o: its PV forecast knows the simulated
// array.
func NewSimMarket(d *Daemon, o SimOptions, node mesh.Mesh, mc fractals.MarketConfig, opt UnitMarketOptions, log *slog.Logger) (*UnitMarket, error) {
	pc := o.PlantConfig(0)
	return NewUnitMarket(d.unit, node, d.clock, mc, pc.PV, pc.Latitude, opt, log)
}

// StartConfiguredMarket attaches the consensus market of a unit file with both a mesh and a market
// section to the daemon (nil, nil otherwise, or for the fractal method, which the daemon does not
// run). The PV forecast models the market section's pv.kw on the default array at latitude 40: it
// learns the unit's actual production within a day.
func StartConfiguredMarket(u *config.Unit, d *Daemon, node *mesh.Node, log *slog.Logger) (*UnitMarket, error) {
	if u == nil || u.Mesh == nil || u.Market == nil || node == nil {
		return nil, nil
	}
	mc := u.Market.Controller()
	if mc.Method == "fractal" {
		if log != nil {
			log.Warn("market method fractal is not run by the daemon: no market", "method", mc.Method)
		}
		return nil, nil
	}
	pv := solar.DefaultPVConfig()
	pv.DCRating = units.Watts(mc.PVKW * 1000)
	m, err := NewUnitMarket(d.unit, node, d.clock, mc, pv, DefaultSimOptions().Latitude, UnitMarketOptions{}, log)
	if err != nil {
		return nil, fmt.Errorf("market: %w", err)
	}
	d.AttachMarket(m)
	return m, nil
}

// StartLoopbackTree starts n mesh nodes on 127.0.0.1 linked along a binary tree (node i dials its
// parent (i-1)/2, as the simulator links its units), so each has at most three neighbours and the
// mesh's diameter grows with log2(n). It returns the nodes and the diameter; the caller closes them.
func StartLoopbackTree(n int, community string) ([]*mesh.Node, int, error) {
	nodes := make([]*mesh.Node, 0, n)
	adj := make([][]int, n)
	for i := range n {
		m := &config.Mesh{Listen: "127.0.0.1:0", Community: community, MaxPeers: 8}
		if i > 0 {
			m.Static = []string{nodes[parent(i)].Enode().URLv4()}
			adj[i], adj[parent(i)] = append(adj[i], parent(i)), append(adj[parent(i)], i)
		}
		node, err := StartMesh(m, nil)
		if err != nil {
			for _, x := range nodes {
				x.Close()
			}
			return nil, 0, err
		}
		nodes = append(nodes, node)
	}
	return nodes, max(1, diameter(adj)), nil
}
