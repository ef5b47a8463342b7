package auction

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// The consensus market peer: the bilateral-trade ADMM of Sorin, Bobo and Pinson (IEEE TPWRS 2019) over
// a horizon, as a pure state machine in the style of etcd's raft. The shell feeds it what arrives (Step)
// and the time (Tick) and sends what Ready returns; it never reads a clock or touches the network.
//
// Every link carries two directed trades (i sells to j, j sells to i), each with its own price, so a
// network charge on either direction is an honest cost and a unit can relay: buy from one neighbour and
// sell to another, its own balance row joining both. Per iteration a peer solves its own problem (its
// agents' welfare, minus half of each trade's charge, minus the ADMM penalty pulling each of its trades
// toward the average of the two sides' proposals and the trade's price) and sends one message to each
// neighbour: what it would sell to it and buy from it. Both sides then update the trade's price with
// the same formula from the same two numbers, so prices agree bit for bit without ever being sent.
//
// Iterations are in lockstep along links (a peer computes k+1 only with every neighbour's k), which keeps
// neighbours at most one iteration apart. Stopping is decided with no centre: a peer is locally
// converged when the primal residual (the two sides' disagreement) and the dual residual (how far the
// averages moved) of all its trades are within tolerance; its streak counts consecutive such iterations,
// capped by its neighbours' streaks plus one, so a streak of Hops (at least the mesh's diameter) means
// every unit within Hops links was converged. The first such iteration floods as Stop on the messages;
// every peer commits the trades of that iteration once Hops+2 more iterations have passed (by then every
// peer has heard the smallest Stop), so both sides of every trade commit the same iteration's numbers.

// PeerConfig is one unit's market for one interval.
type PeerConfig struct {
	ID          string
	Interval    uint64
	Periods     int
	PeriodHours float64
	Agents      []Agent
	Neighbours  []Neighbour

	// Rho is the ADMM penalty in money per kW² per period (default 0.03). Both ends of a link must use
	// the same value: the price update depends on it.
	Rho float64
	// Tolerance bounds the primal and dual residual of every trade (default 5 W).
	Tolerance units.Watts
	// MaxIterations ends the negotiation without convergence (default 3000).
	MaxIterations int
	// Hops is at least the diameter of the community's mesh, in links (required).
	Hops int

	// Start is when the interval's negotiation began; ResendAfter (default 200 ms) is how long a peer
	// waits for a neighbour's iterate before sending its own again; SilenceTimeout (default 3 s) drops
	// a neighbour heard nothing from for that long; StopBy (optional) declares convergence at the
	// current iteration; Deadline (optional) gives up: no trades.
	Start          time.Time
	ResendAfter    time.Duration
	SilenceTimeout time.Duration
	StopBy         time.Time
	Deadline       time.Time
}

func (c PeerConfig) withDefaults() PeerConfig {
	if c.Rho == 0 {
		c.Rho = 0.03
	}
	if c.Tolerance == 0 {
		c.Tolerance = 5
	}
	if c.MaxIterations == 0 {
		c.MaxIterations = 3000
	}
	if c.ResendAfter == 0 {
		c.ResendAfter = 200 * time.Millisecond
	}
	if c.SilenceTimeout == 0 {
		c.SilenceTimeout = 3 * time.Second
	}
	return c
}

func (c PeerConfig) validate() error {
	if c.ID == "" {
		return errors.New("market peer: id empty")
	}
	unit := Unit{ID: c.ID, Agents: c.Agents}
	if err := unit.validate(c.Periods); err != nil {
		return fmt.Errorf("market peer %s: %w", c.ID, err)
	}
	if c.Periods < 1 || c.Periods > MaxMessagePeriods {
		return fmt.Errorf("market peer %s: periods %d, want 1..%d", c.ID, c.Periods, MaxMessagePeriods)
	}
	if !(c.PeriodHours >= MinPeriodHours) || c.PeriodHours > 24 {
		return fmt.Errorf("market peer %s: period_hours %v, want 1/60..24", c.ID, c.PeriodHours)
	}
	if !(c.Rho > 0 && c.Rho < 1e6) || !(c.Tolerance > 0) || c.MaxIterations < 1 || c.MaxIterations > 1e6 {
		return fmt.Errorf("market peer %s: rho %v, tolerance %v W, max iterations %d: want all positive and finite", c.ID, c.Rho, float64(c.Tolerance), c.MaxIterations)
	}
	if c.Hops < 1 || c.Hops > 10000 {
		return fmt.Errorf("market peer %s: hops %d, want 1..10000 (at least the mesh's diameter)", c.ID, c.Hops)
	}
	seen := map[string]bool{}
	for i, n := range c.Neighbours {
		if n.ID == "" || n.ID == c.ID || seen[n.ID] {
			return fmt.Errorf("market peer %s: neighbours[%d] %q: want a distinct other unit", c.ID, i, n.ID)
		}
		seen[n.ID] = true
		if err := (Link{A: c.ID, B: n.ID, ChargePerKWh: n.ChargePerKWh, MaxW: n.MaxW}).validate(map[string]int{c.ID: 0, n.ID: 1}); err != nil {
			return fmt.Errorf("market peer %s: neighbours[%d] %q: %w", c.ID, i, n.ID, err)
		}
	}
	return nil
}

// Outbound is one message for the shell to send to a neighbour.
type Outbound struct {
	To      string
	Payload []byte
}

// Ready is what the peer wants done: messages to send now and, once, the interval's result.
type Ready struct {
	Messages []Outbound
	Result   *IntervalResult
}

// Trade is one committed trade of one period with one partner, the same on both sides: the partner's
// record has the opposite quantity and the same price.
type Trade struct {
	Partner string `json:"partner"`
	Period  int    `json:"period"`
	// BuyW is the net power bought from the partner (negative: sold to it), in W.
	BuyW units.Watts `json:"buy_w"`
	// PricePerKWh is the price of the direction the energy flows in (the mean of both when none does).
	PricePerKWh units.PricePerKWh `json:"price_per_kwh"`
}

// IntervalResult is the outcome of one interval at one unit.
type IntervalResult struct {
	Interval  uint64 `json:"interval"`
	Converged bool   `json:"converged"`
	// Reason says why the negotiation ended: converged, iteration limit, deadline.
	Reason string `json:"reason"`
	// Iteration is the iteration whose trades were committed; Iterations how many were run.
	Iteration  int     `json:"iteration"`
	Iterations int     `json:"iterations"`
	Trades     []Trade `json:"trades"`
	// Schedules is each of the unit's agents' net power per period at the committed iteration, in W.
	Schedules map[string][]float64 `json:"schedules"`
	// AgentWelfare is the agents' benefit minus cost at the committed iteration; NetworkCharges the
	// unit's half of the charges on its committed trades.
	AgentWelfare   float64 `json:"agent_welfare"`
	NetworkCharges float64 `json:"network_charges"`
	// ImbalanceW is the largest |agents − committed trades| over the periods, in W (what the unit's
	// controller and settlement absorb).
	ImbalanceW float64 `json:"imbalance_w"`
	// Dropped lists the neighbours dropped from the interval (silent or left); their trades are zero.
	Dropped []string `json:"dropped,omitempty"`
	// MessagesSent counts the market messages the peer sent this interval, resends included.
	MessagesSent int `json:"messages_sent"`
	// LocalFailures counts iterations whose own program did not solve (the last proposals were kept).
	LocalFailures int `json:"local_failures,omitempty"`
}

// Welfare is the unit's share of the community's welfare.
func (r *IntervalResult) Welfare() float64 { return r.AgentWelfare - r.NetworkCharges }

// MarketPeer is the shape of every market peer (consensus and fractal), so the unit can select either.
type MarketPeer interface {
	Step(from string, payload []byte, now time.Time) error
	Tick(now time.Time)
	Ready() Ready
}

// ErrNotNeighbour is returned by Step for a message from a unit that is not a neighbour this interval.
var ErrNotNeighbour = errors.New("market peer: message from a unit that is not a neighbour this interval")

// ErrOtherInterval is returned by Step for a message of another interval (a late or early neighbour):
// harmless, the message is ignored.
var ErrOtherInterval = errors.New("market peer: message of another interval")

// tradeState is one iteration's proposals on one link, both sides' (kW per period).
type tradeState struct {
	ownSell, ownBuy []float64
	nbSell, nbBuy   []float64
	priceOut        []float64 // λ of "self sells to neighbour", money per kW and period
	priceIn         []float64 // λ of "neighbour sells to self"
}

// iterationRecord keeps what a commit at that iteration needs.
type iterationRecord struct {
	links     map[string]*tradeState
	schedules map[string][]float64
	welfare   float64
	sent      map[string][]byte
}

type neighbourState struct {
	Neighbour
	index    int
	active   bool
	current  *PeerMessage // its iterate for the iteration being completed
	next     *PeerMessage // its iterate one ahead
	heard    time.Time
	lastSent time.Time
}

// ConsensusPeer is one unit's consensus market for one interval. Create it with NewConsensusPeer.
type ConsensusPeer struct {
	cfg       PeerConfig
	agents    []block
	nbs       []*neighbourState
	byID      map[string]*neighbourState
	iteration int // the iteration whose neighbours' iterates are awaited
	history   map[int]*iterationRecord
	priceOut  map[string][]float64
	priceIn   map[string][]float64
	prevAvg   map[string][2][]float64
	streak    uint32
	stop      uint32
	outbox    []Outbound
	result    *IntervalResult // set once the interval is committed
	reported  bool
	sent      int
	dropped   []string
	lastIter  time.Time
	// lastLocal is the last local solution that converged; localFailures counts those that did not.
	lastLocal     lpResult
	localFailures int
}

// NewConsensusPeer validates cfg, solves iteration 0 and queues its messages.
func NewConsensusPeer(cfg PeerConfig) (*ConsensusPeer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &ConsensusPeer{cfg: cfg, byID: map[string]*neighbourState{}, history: map[int]*iterationRecord{},
		priceOut: map[string][]float64{}, priceIn: map[string][]float64{}, prevAvg: map[string][2][]float64{},
		stop: NoStop, lastIter: cfg.Start}
	for _, a := range cfg.Agents {
		p.agents = append(p.agents, compile(a, cfg.Periods, cfg.PeriodHours))
	}
	for i, n := range cfg.Neighbours {
		ns := &neighbourState{Neighbour: n, index: i, active: true, heard: cfg.Start}
		p.nbs = append(p.nbs, ns)
		p.byID[n.ID] = ns
		p.priceOut[n.ID] = make([]float64, cfg.Periods)
		p.priceIn[n.ID] = make([]float64, cfg.Periods)
	}
	p.solveAndSend(0, cfg.Start)
	p.advance(cfg.Start)
	return p, nil
}

// Step handles one message from neighbour from (its author as the mesh verified it).
func (p *ConsensusPeer) Step(from string, payload []byte, now time.Time) error {
	m, err := DecodePeerMessage(payload)
	if err != nil {
		return fmt.Errorf("from %s: %w", from, err)
	}
	nb, ok := p.byID[from]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotNeighbour, from)
	}
	if m.Interval != p.cfg.Interval {
		return fmt.Errorf("%w: %d from %s, this is %d", ErrOtherInterval, m.Interval, from, p.cfg.Interval)
	}
	if !nb.active {
		return nil
	}
	nb.heard = now
	if m.Kind == KindLeave {
		if p.result == nil {
			p.drop(nb)
			p.advance(now)
		}
		return nil
	}
	if len(m.SellKW) != p.cfg.Periods {
		return fmt.Errorf("from %s: %d periods, want %d", from, len(m.SellKW), p.cfg.Periods)
	}
	k := int(m.Iteration)
	switch {
	case k < p.iteration || p.result != nil:
		// It is waiting for our iterate of that iteration (it resends its own while it waits).
		if rec := p.history[k]; rec != nil {
			if payload := rec.sent[from]; payload != nil {
				p.send(nb, payload, now)
			}
		}
		return nil
	case k == p.iteration:
		nb.current = &m
	case k == p.iteration+1:
		nb.next = &m
	default:
		return fmt.Errorf("from %s: iteration %d while this peer awaits %d, want at most one ahead", from, k, p.iteration)
	}
	p.advance(now)
	return nil
}

// Tick resends to neighbours that have not answered, drops those silent for too long, and applies the
// soft and hard deadlines.
func (p *ConsensusPeer) Tick(now time.Time) {
	if p.result != nil {
		return
	}
	if !p.cfg.Deadline.IsZero() && !now.Before(p.cfg.Deadline) {
		p.fail("deadline", now)
		return
	}
	if !p.cfg.StopBy.IsZero() && !now.Before(p.cfg.StopBy) && p.stop == NoStop && p.iteration > 0 {
		p.stop = uint32(p.iteration - 1)
	}
	rec := p.history[p.iteration]
	for _, nb := range p.nbs {
		if !nb.active || nb.current != nil {
			continue
		}
		if now.Sub(nb.heard) >= p.cfg.SilenceTimeout {
			p.drop(nb)
			continue
		}
		if now.Sub(nb.lastSent) >= p.cfg.ResendAfter && rec != nil && rec.sent[nb.ID] != nil {
			p.send(nb, rec.sent[nb.ID], now)
		}
	}
	p.advance(now)
}

// Ready returns the messages to send and, once, the result, and forgets them.
func (p *ConsensusPeer) Ready() Ready {
	r := Ready{Messages: p.outbox}
	p.outbox = nil
	if p.result != nil && !p.reported {
		r.Result, p.reported = p.result, true
	}
	return r
}

// Result is the committed result, or nil while the negotiation runs.
func (p *ConsensusPeer) Result() *IntervalResult { return p.result }

func (p *ConsensusPeer) send(nb *neighbourState, payload []byte, now time.Time) {
	p.outbox = append(p.outbox, Outbound{To: nb.ID, Payload: payload})
	nb.lastSent = now
	p.sent++
}

// drop removes a neighbour from the interval: its trades are zero from now on, and it is told so.
func (p *ConsensusPeer) drop(nb *neighbourState) {
	nb.active, nb.current, nb.next = false, nil, nil
	p.dropped = append(p.dropped, nb.ID)
	if payload, err := (PeerMessage{Kind: KindLeave, Interval: p.cfg.Interval}).MarshalBinary(); err == nil {
		p.outbox = append(p.outbox, Outbound{To: nb.ID, Payload: payload})
		p.sent++
	}
}

func (p *ConsensusPeer) activeNeighbours() []*neighbourState {
	var out []*neighbourState
	for _, nb := range p.nbs {
		if nb.active {
			out = append(out, nb)
		}
	}
	return out
}

// advance completes every iteration whose neighbours' iterates are all in.
func (p *ConsensusPeer) advance(now time.Time) {
	for p.result == nil {
		active := p.activeNeighbours()
		for _, nb := range active {
			if nb.current == nil {
				return
			}
		}
		p.complete(active, now)
	}
}

// complete finishes iteration k = p.iteration with every active neighbour's iterate: residuals, the
// stopping rule, the price update, and either the commit or iteration k+1.
func (p *ConsensusPeer) complete(active []*neighbourState, now time.Time) {
	k := p.iteration
	rec := p.history[k]
	rho := p.cfg.Rho
	var primal, dual float64
	minStreak := uint32(math.MaxUint32 - 1)
	for _, nb := range active {
		m := nb.current
		ls := rec.links[nb.ID]
		ls.nbSell, ls.nbBuy = m.SellKW, m.BuyKW
		out, in := p.priceOut[nb.ID], p.priceIn[nb.ID]
		avgOut, avgIn := make([]float64, p.cfg.Periods), make([]float64, p.cfg.Periods)
		for t := range p.cfg.Periods {
			// Both ends compute the same two numbers in the same order: prices agree exactly.
			out[t] += rho / 2 * (m.BuyKW[t] - ls.ownSell[t])
			in[t] += rho / 2 * (ls.ownBuy[t] - m.SellKW[t])
			primal = math.Max(primal, math.Max(math.Abs(m.BuyKW[t]-ls.ownSell[t]), math.Abs(ls.ownBuy[t]-m.SellKW[t])))
			avgOut[t] = (ls.ownSell[t] + m.BuyKW[t]) / 2
			avgIn[t] = (ls.ownBuy[t] + m.SellKW[t]) / 2
		}
		if prev, ok := p.prevAvg[nb.ID]; ok {
			for t := range p.cfg.Periods {
				dual = math.Max(dual, rho*math.Max(math.Abs(avgOut[t]-prev[0][t]), math.Abs(avgIn[t]-prev[1][t])))
			}
		} else if k == 0 {
			dual = math.Inf(1)
		}
		p.prevAvg[nb.ID] = [2][]float64{avgOut, avgIn}
		ls.priceOut, ls.priceIn = slices.Clone(out), slices.Clone(in)
		minStreak = min(minStreak, m.Streak)
		// A sender decides or learns a stop only at an iteration it has completed, so a Stop at or
		// beyond the iteration it sends is false and is ignored.
		if m.Stop < p.stop && m.Stop < m.Iteration {
			p.stop = m.Stop
		}
		nb.current, nb.next = nb.next, nil
	}
	tolKW := float64(p.cfg.Tolerance) / 1000
	// The dual residual is in money per kW and period: ρ times the move, judged at ρ times the tolerance.
	if k > 0 && primal <= tolKW && dual <= rho*tolKW {
		p.streak = minStreak + 1
	} else {
		p.streak = 0
	}
	if int(p.streak) >= p.cfg.Hops && uint32(k) < p.stop {
		p.stop = uint32(k)
	}
	p.lastIter = now
	switch {
	case p.stop != NoStop && k >= int(p.stop)+p.cfg.Hops+2:
		p.commit(int(p.stop), true, "converged", k)
		return
	case k+1 >= p.cfg.MaxIterations:
		p.commit(k, false, "iteration limit", k)
		return
	}
	p.iteration = k + 1
	p.solveAndSend(k+1, now)
	// Forget what no commit can need any more.
	delete(p.history, k+1-(p.cfg.Hops+4))
}

// solveAndSend solves the unit's own problem for iteration k and sends each neighbour its proposal.
func (p *ConsensusPeer) solveAndSend(k int, now time.Time) {
	active := p.activeNeighbours()
	rec := p.solveLocal(active)
	p.history[k] = rec
	for _, nb := range active {
		ls := rec.links[nb.ID]
		msg := PeerMessage{Kind: KindIterate, Interval: p.cfg.Interval, Iteration: uint32(k), Streak: p.streak,
			Stop: p.stop, SellKW: ls.ownSell, BuyKW: ls.ownBuy}
		payload, err := msg.MarshalBinary()
		if err != nil {
			// Own proposals are within the link's limit by construction; a failure here is a bug
			// worth seeing, not a message worth sending.
			panic(fmt.Sprintf("market peer %s: own iterate does not encode: %v", p.cfg.ID, err))
		}
		rec.sent[nb.ID] = payload
		p.send(nb, payload, now)
	}
}

// solveLocal minimises the agents' cost plus, for every trade, half its charge and the ADMM penalty
// ρ/2·(x − target)², target = the mean of both proposals ± price/ρ, subject to the unit's balance.
func (p *ConsensusPeer) solveLocal(active []*neighbourState) *iterationRecord {
	T, h, rho := p.cfg.Periods, p.cfg.PeriodHours, p.cfg.Rho
	blocks := slices.Clone(p.agents)
	for _, nb := range active {
		var b block
		upper := float64(nb.MaxW) / 1000
		b.quad = []float64{}
		avg, seen := p.prevAvg[nb.ID]
		for t := range T {
			sellTarget, buyTarget := 0.0, 0.0
			if seen {
				sellTarget = avg[0][t] + p.priceOut[nb.ID][t]/rho
				buyTarget = avg[1][t] - p.priceIn[nb.ID][t]/rho
			}
			charge := float64(nb.ChargePerKWh) * h / 2
			b.add(charge-rho*sellTarget, upper, t, 1) // sell: leaves the balance like a load
			b.add(charge-rho*buyTarget, upper, t, -1) // buy: enters it like a generator
			b.quad = append(b.quad, rho, rho)
		}
		blocks = append(blocks, b)
	}
	rec := &iterationRecord{links: map[string]*tradeState{}, schedules: map[string][]float64{}, sent: map[string][]byte{}}
	r, err := solveBlockLPTol(blocks, T, localTolerance, localNearTolerance)
	if err != nil {
		// Keep the last proposals: a local solve that fails once must not break the negotiation.
		r = p.fallback(blocks)
		p.localFailures++
	} else {
		p.lastLocal = r
	}
	for i, a := range p.cfg.Agents {
		s := p.agents[i].schedule(r.x[i], T)
		for t := range s {
			s[t] = positiveZero(s[t] * 1000)
		}
		rec.schedules[a.ID] = s
		for j, c := range p.agents[i].cost {
			rec.welfare -= c * r.x[i][j]
		}
	}
	for n, nb := range active {
		x := r.x[len(p.agents)+n]
		ls := &tradeState{ownSell: make([]float64, T), ownBuy: make([]float64, T)}
		upper := float64(nb.MaxW) / 1000
		for t := range T {
			ls.ownSell[t] = math.Min(math.Max(x[2*t], 0), upper)
			ls.ownBuy[t] = math.Min(math.Max(x[2*t+1], 0), upper)
		}
		rec.links[nb.ID] = ls
	}
	return rec
}

// fallback is the previous iteration's solution when a local solve fails (zero at the start, or for a
// block whose shape changed since, after a neighbour was dropped).
func (p *ConsensusPeer) fallback(blocks []block) lpResult {
	r := lpResult{x: make([][]float64, len(blocks))}
	for i := range blocks {
		if i < len(p.lastLocal.x) && len(p.lastLocal.x[i]) == len(blocks[i].cost) {
			r.x[i] = slices.Clone(p.lastLocal.x[i])
			continue
		}
		r.x[i] = make([]float64, len(blocks[i].cost))
	}
	return r
}

// commit fixes the trades of iteration at: on each link the mean of the two sides' proposals per
// direction, which both sides compute from the same two numbers.
func (p *ConsensusPeer) commit(at int, converged bool, reason string, ran int) {
	rec := p.history[at]
	if rec == nil {
		// Only a neighbour's bogus Stop can point before the kept history: give up rather than guess.
		p.fail(fmt.Sprintf("stop at iteration %d no longer kept", at), time.Time{})
		return
	}
	T, h := p.cfg.Periods, p.cfg.PeriodHours
	res := &IntervalResult{Interval: p.cfg.Interval, Converged: converged, Reason: reason, Iteration: at,
		Iterations: ran + 1, Schedules: rec.schedules, AgentWelfare: positiveZero(rec.welfare), Dropped: p.dropped}
	net := make([]float64, T)
	for _, a := range p.cfg.Agents { // in the agents' order, never the map's: the same bits every run
		for t, w := range rec.schedules[a.ID] {
			net[t] += w / 1000
		}
	}
	for _, nb := range p.nbs {
		ls := rec.links[nb.ID]
		if !nb.active || ls == nil || ls.nbSell == nil {
			continue
		}
		for t := range T {
			export := (ls.ownSell[t] + ls.nbBuy[t]) / 2
			imp := (ls.ownBuy[t] + ls.nbSell[t]) / 2
			buy := imp - export
			price := (ls.priceIn[t] + ls.priceOut[t]) / 2
			if buy > 0 {
				price = ls.priceIn[t]
			} else if buy < 0 {
				price = ls.priceOut[t]
			}
			res.Trades = append(res.Trades, Trade{Partner: nb.ID, Period: t, BuyW: units.Watts(positiveZero(buy * 1000)),
				PricePerKWh: units.PricePerKWh(positiveZero(price / h))})
			res.NetworkCharges += float64(nb.ChargePerKWh) * (export + imp) * h / 2
			net[t] -= buy
		}
	}
	res.ImbalanceW = maxAbs(net) * 1000
	res.MessagesSent = p.sent
	res.LocalFailures = p.localFailures
	p.result = res
}

// fail ends the interval with no trades.
func (p *ConsensusPeer) fail(reason string, now time.Time) {
	p.result = &IntervalResult{Interval: p.cfg.Interval, Reason: reason, Iterations: p.iteration,
		Dropped: p.dropped, MessagesSent: p.sent, Schedules: map[string][]float64{}}
	_ = now
}

// localTolerance is the relative tolerance of a peer's own program: a milliwatt on a unit's kilowatts,
// far below the market's residual tolerance, and loose enough that the interior point never needs its
// last, ill-conditioned steps (1e-9 cost 13 % more CPU on a 3-unit day for the same welfare).
const localTolerance = 1e-7

// localNearTolerance is what a peer's program accepts when the interior point can get no closer: a
// relative 1e-6 of a few kW is milliwatts, three orders below the market's tolerance.
const localNearTolerance = 1e-6
