package firmware

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/fractals-energy/fractals/auction"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
	"github.com/fractals-energy/fractals/mesh"
)

// CommunityOptions choose a community run: the units' plants as for Simulate, the market each unit
// trades in, the feeder they sit on and where the payment channels keep their files.
type CommunityOptions struct {
	Sim    SimOptions
	Market fractals.MarketConfig
	// Method clears each interval: MethodConsensus (a market peer per unit over the mesh, no centre),
	// auction.Distributed (the ADMM exchange in process) or auction.Central.
	Method auction.Method
	// DumpMarket, when set, is a directory that receives each interval's bilateral market
	// (auction.WriteCommunity), for `fractals auction solve --in FILE` (consensus method).
	DumpMarket string
	// Silent are units whose market peer never answers (consensus method): their neighbours drop them.
	Silent []int
	// Feeder is a MATPOWER case file; "" runs without a feeder (no network charge, no power flow).
	Feeder      string
	FeederBuses []int             // the bus of each unit; empty: one per load bus in the case's order
	NetworkRate units.PricePerKWh // network charge of an average-distance trade
	// FeederLoadScale scales the case's own loads (its other customers): 1 as the case gives them, 0
	// for a feeder that carries only the community.
	FeederLoadScale float64
	// LedgerDir holds each unit's bbolt channel store; "" makes (and removes) a temporary directory.
	LedgerDir string
	// MeshDrop and MeshJitter are the in-memory mesh's loss probability and jitter (on 5 ms latency).
	MeshDrop   float64
	MeshJitter time.Duration
	// Liars are units that sign a meter reading 500 Wh below what their meter measured each period, to
	// pay less for what they drew (the adversary of the settlement tests).
	Liars []int
}

// DefaultCommunityOptions is three units with the default market, cleared by consensus.
func DefaultCommunityOptions() CommunityOptions {
	o := CommunityOptions{Sim: DefaultSimOptions(), Market: fractals.DefaultMarketConfig(), Method: MethodConsensus, NetworkRate: 0.01,
		FeederLoadScale: 1}
	o.Sim.Units = 3
	o.Market.Horizon = 6 * time.Hour
	return o
}

// MarketResult summarises the intervals.
type MarketResult struct {
	Intervals      int     `json:"intervals"`
	Cleared        int     `json:"cleared"`
	IterationsMean float64 `json:"iterations_mean"`
	IterationsMax  int     `json:"iterations_max"`
	MaxImbalanceW  float64 `json:"max_imbalance_w"`
	// Welfare is the sum of the intervals' welfare as the method found it, Central the sum of the
	// central optimum of the same bids; MaxGap is the largest relative gap of any interval.
	Welfare float64 `json:"welfare"`
	Central float64 `json:"central_optimum"`
	MaxGap  float64 `json:"max_gap"`
	Trades  int     `json:"trades"`
	// PriceMin and PriceMax are the extremes of the binding periods' clearing prices.
	PriceMin float64 `json:"price_min"`
	PriceMax float64 `json:"price_max"`
	// MaxImbalanceWh is the largest metered deviation of any unit from its committed exchange in a
	// period.
	MaxImbalanceWh float64 `json:"max_unit_imbalance_wh"`
	// Dropped counts neighbours the consensus peers dropped (silent); TradeMismatches the committed
	// trades whose two sides disagreed (not settled).
	Dropped         int    `json:"dropped_neighbours"`
	TradeMismatches int    `json:"trade_mismatches"`
	Method          string `json:"method"`
	// MaxGapAbs is the largest absolute welfare gap of an interval (consensus; there MaxGap is the
	// gap relative to the interval's central welfare but at least 1).
	MaxGapAbs float64 `json:"max_gap_abs"`
}

// PaymentsResult summarises settlement.
type PaymentsResult struct {
	Transfers int     `json:"transfers"` // unit-to-unit payments over channels
	Paid      float64 `json:"paid"`      // what the channels' senders sent (mediators included)
	Received  float64 `json:"received"`  // what the channels' receivers got
	Failed    int     `json:"failed"`
	Held      int     `json:"held"`
	// ToGrid and FromGrid are what the units' grid trades and imbalances settle with the utility
	// (its bill, outside the channels); Network the feeder's charges.
	ToGrid        float64  `json:"to_grid"`
	FromGrid      float64  `json:"from_grid"`
	Network       float64  `json:"network"`
	Disagreements []string `json:"disagreements,omitempty"`
}

// FeederSummary is the power flows of the periods.
type FeederSummary struct {
	Case     string  `json:"case"`
	Periods  int     `json:"periods"`
	LossesWh float64 `json:"losses_wh"` // the whole feeder's, with its own loads and the units
	// UnitsLossesWh is what the units' injections changed the losses by (negative: they cut them).
	UnitsLossesWh float64 `json:"units_losses_wh"`
	MinVoltage    float64 `json:"min_voltage_pu"`
	MaxVoltage    float64 `json:"max_voltage_pu"`
	// OutsideBand counts periods with a voltage outside 0.95–1.05 p.u. somewhere on the feeder.
	OutsideBand int `json:"periods_outside_band"`
}

// CommunityResult is the summary of a community run.
type CommunityResult struct {
	SimResult
	Market   MarketResult   `json:"market"`
	Payments PaymentsResult `json:"payments"`
	Feeder   *FeederSummary `json:"feeder,omitempty"`
	// Mesh is what the in-memory mesh carried (the signed meter readings; the market and the payments
	// still run in-process).
	Mesh *MeshSummary `json:"mesh"`
}

// member is one unit of the community with what it trades from.
type member struct {
	name  string
	plant *hil.Plant
	unit  *Unit
	cfg   fractals.Config
	pv    fractals.PVForecast
	load  fractals.LoadProfile
	key   ed25519.PrivateKey
	done  map[fractals.IntentKey]bool // the payments already issued: never again
	// meterAt is the plant's import minus export at the start of the period, Wh.
	meterAt units.WattHours
}

// SimulateCommunity runs the units as one community in lockstep in simulated time: every market
// interval each unit bids its agents, the market clears, each unit's Step follows its binding
// schedule; after each period every unit signs its meter reading, settles its trades with the
// others' readings and the feeder's balance, and pays over the payment channels.
func SimulateCommunity(ctx context.Context, o CommunityOptions) (CommunityResult, error) {
	if err := o.Validate(); err != nil {
		return CommunityResult{}, err
	}
	start := time.Now()
	run, err := newCommunityRun(o)
	if err != nil {
		return CommunityResult{}, err
	}
	defer run.close()
	if err := run.loop(ctx); err != nil {
		return CommunityResult{}, err
	}
	r, err := run.summary()
	r.WallSeconds = time.Since(start).Seconds()
	return r, err
}

// Validate names the first option out of range.
func (o CommunityOptions) Validate() error {
	if err := o.Sim.Validate(); err != nil {
		return err
	}
	if err := o.Market.Validate(); err != nil {
		return err
	}
	if o.Sim.Units < 2 || o.Sim.Units > 1000 {
		return fmt.Errorf("--units %d out of range [2, 1000] for a community", o.Sim.Units)
	}
	if o.Method != auction.Distributed && o.Method != auction.Central && o.Method != MethodConsensus {
		return fmt.Errorf("--market-method %q, want consensus, distributed or central", o.Method)
	}
	for _, l := range o.Silent {
		if l < 0 || l >= o.Sim.Units || o.Method != MethodConsensus {
			return fmt.Errorf("silent unit %d: want a unit (0..%d) of a consensus market", l, o.Sim.Units-1)
		}
	}
	if o.Sim.Duration < o.Market.Interval {
		return fmt.Errorf("--duration %v shorter than the market interval %v", o.Sim.Duration, o.Market.Interval)
	}
	if !(o.FeederLoadScale >= 0 && o.FeederLoadScale <= 10) {
		return fmt.Errorf("--feeder-load-scale %g out of range [0, 10]", o.FeederLoadScale)
	}
	if !(o.MeshDrop >= 0 && o.MeshDrop <= 1) || o.MeshJitter < 0 || o.MeshJitter > readingsWait/2 {
		return fmt.Errorf("--mesh-drop %g out of range [0, 1] or --mesh-jitter %v out of range [0, %v]", o.MeshDrop, o.MeshJitter, readingsWait/2)
	}
	for _, l := range o.Liars {
		if l < 0 || l >= o.Sim.Units {
			return fmt.Errorf("liar %d is not a unit (0..%d)", l, o.Sim.Units-1)
		}
	}
	return nil
}

// communityRun is the state of a run.
type communityRun struct {
	o       CommunityOptions
	clk     *clock.Sim
	members []*member
	names   []string
	keys    map[string]ed25519.PublicKey
	market  CommunityMarket
	feeder  *Feeder
	base    float64 // feeder losses without the units, W
	pay     *payments
	mesh    *readingsMesh
	// consensus runs the market peers over mesh (MethodConsensus only).
	consensus *consensusMarket
	tmpDir    string

	current cleared
	res     CommunityResult
	iters   int
}

func newCommunityRun(o CommunityOptions) (*communityRun, error) {
	r := &communityRun{o: o, market: ExchangeMarket{Method: o.Method}, keys: map[string]ed25519.PublicKey{}}
	start := o.Sim.PlantConfig(0).Start
	r.clk = clock.NewSim(start)
	for i := range o.Sim.Units {
		pc := o.Sim.PlantConfig(i)
		plant, unit, err := newSimulatedUnit(pc, o.Sim.Step, r.clk, nil)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("u%d", i)
		var seed [ed25519.SeedSize]byte
		binary.BigEndian.PutUint64(seed[:], o.Sim.Seed)
		binary.BigEndian.PutUint64(seed[8:], uint64(i))
		key := ed25519.NewKeyFromSeed(seed[:])
		m := &member{name: name, plant: plant, unit: unit, cfg: unit.cfg, pv: fractals.NewPVForecast(pc.PV, pc.Latitude),
			load: fractals.NewLoadProfile(o.Market.Interval), key: key, done: map[fractals.IntentKey]bool{}}
		r.members = append(r.members, m)
		r.names = append(r.names, name)
		r.keys[name] = key.Public().(ed25519.PublicKey)
	}
	if o.Feeder != "" {
		f, err := LoadFeeder(o.Feeder, o.Sim.Units, o.FeederBuses)
		if err != nil {
			return nil, err
		}
		f.ScaleLoads(o.FeederLoadScale)
		base, err := f.Solve(make([]units.Watts, o.Sim.Units))
		if err != nil {
			return nil, err
		}
		r.feeder, r.base = f, base.LossesW
		r.res.Feeder = &FeederSummary{Case: f.Case.Name, MinVoltage: math.Inf(1), MaxVoltage: math.Inf(-1)}
	}
	dir := o.LedgerDir
	if dir == "" {
		d, err := os.MkdirTemp("", "fractals-community-")
		if err != nil {
			return nil, err
		}
		dir, r.tmpDir = d, d
	}
	p, err := newPayments(dir, r.names, o.Sim.Seed)
	if err != nil {
		r.close()
		return nil, err
	}
	r.pay = p
	rm, err := newReadingsMesh(start, r.names, o.Sim.Seed, mesh.LinkProfile{Latency: 5 * time.Millisecond, Jitter: o.MeshJitter, Drop: o.MeshDrop})
	if err != nil {
		r.close()
		return nil, err
	}
	r.mesh = rm
	if o.Method == MethodConsensus {
		charge := func(i, j int) units.PricePerKWh { return r.feeder.NetworkCharge(i, j, o.NetworkRate) }
		r.consensus = newConsensusMarket(rm, r.names, charge, o.Silent)
	}
	r.res.Market.Method = string(o.Method)
	r.res.Market.PriceMin, r.res.Market.PriceMax = math.Inf(1), math.Inf(-1)
	return r, nil
}

func (r *communityRun) close() {
	if r.pay != nil {
		r.pay.close()
	}
	if r.consensus != nil {
		r.consensus.close()
	}
	if r.mesh != nil {
		r.mesh.close()
	}
	if r.tmpDir != "" {
		os.RemoveAll(r.tmpDir)
	}
}

// liarUnderstatement is how much a liar's signed reading understates its import each period.
const liarUnderstatement units.WattHours = 500

// observeEvery is how often the forecasts learn from the unit's readings.
const observeEvery = time.Minute

func (r *communityRun) loop(ctx context.Context) error {
	o := r.o
	steps := int(o.Sim.Duration / o.Sim.Step)
	perObserve := max(1, int(observeEvery/o.Sim.Step))
	for n := 0; n < steps; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		now := r.clk.Now()
		if now.Equal(now.Truncate(o.Market.Interval)) {
			if n > 0 {
				if err := r.settle(ctx, now); err != nil {
					return err
				}
			}
			if err := r.clear(now); err != nil {
				return err
			}
		}
		for _, m := range r.members {
			if err := m.unit.Cycle(ctx); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if n%perObserve == 0 {
				m.observe(now)
			}
			m.plant.Advance(o.Sim.Step)
		}
		r.clk.Advance(o.Sim.Step)
	}
	if now := r.clk.Now(); now.Equal(now.Truncate(o.Market.Interval)) {
		return r.settle(ctx, now)
	}
	return nil
}

// observe teaches the forecasts the last snapshot.
func (m *member) observe(now time.Time) {
	s := m.unit.Status().Snapshot
	if s.PVAvailable.Good() {
		m.pv.Observe(now, s.PVAvailable.Value, observeEvery)
	}
	if d := s.Loads[fractals.LoadCritical].Demand; d.Good() {
		m.load.Observe(now, d.Value, observeEvery)
	}
}

// clear runs the market of the interval starting now and hands every unit its schedule.
func (r *communityRun) clear(now time.Time) error {
	mc := &r.o.Market
	n := mc.Periods()
	var agents []auction.Agent
	perUnit := make([][]auction.Agent, len(r.members))
	for i, m := range r.members {
		st := m.unit.Status()
		s := st.Snapshot
		if s.At.IsZero() {
			s.At = now // before the first cycle: nothing read yet, the agents bid from defaults
		}
		f := fractals.Forecasts{PV: m.pv.Forecast(now, n, mc.Interval),
			Critical: m.load.Forecast(now, n, mc.Interval, s.Loads[fractals.LoadCritical].Demand.Value),
			Services: [2]units.Watts{s.Loads[fractals.LoadWiFi].Demand.Value, s.Loads[fractals.LoadStorage].Demand.Value}}
		perUnit[i] = fractals.BuildAgents(m.name, mc, &m.cfg, st.State, &s, f, now)
		agents = append(agents, perUnit[i]...)
		m.meterAt = m.plant.Counters().GridImport - m.plant.Counters().GridExport
	}
	if r.consensus != nil {
		return r.clearConsensus(now, perUnit)
	}
	p := auction.Problem{Periods: n, PeriodHours: mc.Interval.Hours(), Agents: agents}
	mr := &r.res.Market
	mr.Intervals++
	sol, err := r.market.Clear(p)
	if err != nil {
		// An interval that does not clear commits nothing: every unit runs on its own until the next.
		r.current = cleared{interval: now.Unix()}
		for _, m := range r.members {
			m.unit.SetSchedule(fractals.Schedule{})
		}
		return nil
	}
	central := sol
	if r.o.Method != auction.Central {
		if central, err = auction.Solve(p, auction.Central, auction.ADMMOptions{}); err != nil {
			return fmt.Errorf("interval %v: central reference: %w", now, err)
		}
	}
	mr.Cleared++
	r.iters += sol.Iterations
	mr.IterationsMax = max(mr.IterationsMax, sol.Iterations)
	mr.MaxImbalanceW = max(mr.MaxImbalanceW, sol.MaxImbalanceW)
	mr.Welfare += sol.Welfare
	mr.Central += central.Welfare
	if central.Welfare != 0 {
		mr.MaxGap = max(mr.MaxGap, math.Abs(central.Welfare-sol.Welfare)/math.Abs(central.Welfare))
	}
	charge := func(i, j int) units.PricePerKWh { return r.feeder.NetworkCharge(i, j, r.o.NetworkRate) }
	if r.feeder == nil {
		charge = func(int, int) units.PricePerKWh { return r.o.NetworkRate }
	}
	r.current = commitFirstPeriod(r.names, sol, mc.ImportPriceAt(now), mc.ExportPrice, now, mc.Interval, charge)
	mr.Trades += len(r.current.trades)
	mr.PriceMin = min(mr.PriceMin, float64(r.current.price))
	mr.PriceMax = max(mr.PriceMax, float64(r.current.price))
	for i, m := range r.members {
		m.unit.SetSchedule(r.current.schedules[i])
	}
	return nil
}

// settle closes the period that ends now: meter readings signed and exchanged, the feeder's power
// flow and balance, every unit's settlement, and the payments.
func (r *communityRun) settle(ctx context.Context, now time.Time) error {
	h := r.o.Market.Interval
	c := r.current
	seconds := int64(h / time.Second)
	readings := make([]fractals.SignedReading, len(r.members))
	truth := make([]units.Watts, len(r.members))
	var metered units.WattHours
	liar := map[int]bool{}
	for _, l := range r.o.Liars {
		liar[l] = true
	}
	for i, m := range r.members {
		cnt := m.plant.Counters()
		wh := cnt.GridImport - cnt.GridExport - m.meterAt
		metered += wh
		truth[i] = wh.Per(h)
		reported := wh
		if liar[i] {
			reported -= liarUnderstatement
		}
		readings[i] = fractals.SignReading(fractals.MeterReading{Unit: m.name, Interval: c.interval, Seconds: seconds, NetImport: reported}, m.key)
	}
	var balance *fractals.FeederBalance
	if r.feeder != nil {
		fr, err := r.feeder.Solve(truth)
		if err != nil {
			return fmt.Errorf("period %v: %w", now.Add(-h), err)
		}
		losses := units.Watts(fr.LossesW - r.base).Over(h)
		fs := r.res.Feeder
		fs.Periods++
		fs.LossesWh += float64(units.Watts(fr.LossesW).Over(h))
		fs.UnitsLossesWh += float64(losses)
		fs.MinVoltage, fs.MaxVoltage = min(fs.MinVoltage, fr.MinVoltage), max(fs.MaxVoltage, fr.MaxVoltage)
		if fr.MinVoltage < 0.95 || fr.MaxVoltage > 1.05 {
			fs.OutsideBand++
		}
		balance = &fractals.FeederBalance{HeadImport: metered + losses, Losses: losses, Units: len(r.members)}
	}
	mc := &r.o.Market
	from := now.Add(-h)
	received := r.mesh.exchange(now, readings)
	for i, m := range r.members {
		p := fractals.Period{Unit: m.name, Interval: c.interval, Seconds: seconds, Mode: m.unit.Status().State.Mode,
			Own: readings[i].Reading, Keys: r.keys, Feeder: balance, ImportPrice: mc.ImportPriceAt(from), ExportPrice: mc.ExportPrice,
			ClearingPrice: c.price, Tolerance: 1}
		if liar[i] {
			p.Own.NetImport = truth[i].Over(h) // its own settlement uses its real meter; the lie is what it sends
		}
		for _, t := range c.trades {
			if t.Buyer == m.name || t.Seller == m.name {
				p.Trades = append(p.Trades, t)
			}
		}
		p.Readings = received[i]
		s := fractals.Settle(&p, m.done)
		r.record(ctx, m, s)
	}
	return nil
}

// record pays a unit's intents and adds its settlement to the summary.
func (r *communityRun) record(ctx context.Context, m *member, s fractals.Settlement) {
	pr := &r.res.Payments
	pr.Held += len(s.Held)
	pr.Disagreements = appendCapped(pr.Disagreements, s.Disagreements)
	r.res.Market.MaxImbalanceWh = max(r.res.Market.MaxImbalanceWh, math.Abs(float64(s.Imbalance)))
	for _, in := range s.Intents {
		switch in.To {
		case fractals.GridAccount, fractals.ImbalanceAccount:
			pr.ToGrid += float64(in.Amount)
		case fractals.NetworkAccount:
			pr.Network += float64(in.Amount)
		default:
			if err := r.pay.pay(ctx, in); err != nil {
				pr.Disagreements = appendCapped(pr.Disagreements, []string{err.Error()})
				continue
			}
		}
		m.done[in.Key] = true
	}
	for _, e := range s.Expect {
		if e.From == fractals.GridAccount || e.From == fractals.ImbalanceAccount {
			pr.FromGrid += float64(e.Amount)
		}
	}
}

// maxDisagreements bounds what the summary lists; the count of held trades says the rest.
const maxDisagreements = 20

func appendCapped(list, more []string) []string {
	for _, s := range more {
		if len(list) >= maxDisagreements {
			break
		}
		list = append(list, s)
	}
	return list
}

func (r *communityRun) summary() (CommunityResult, error) {
	runs := make([]unitRun, len(r.members))
	steps := int(r.o.Sim.Duration / r.o.Sim.Step)
	for i, m := range r.members {
		runs[i] = unitRun{counters: m.plant.Counters(), sessions: m.plant.Sessions(), cfg: r.o.Sim.PlantConfig(i), cycles: steps}
	}
	res := r.res
	res.SimResult = summarise(r.o.Sim, runs)
	if res.Market.Cleared > 0 {
		res.Market.IterationsMean = float64(r.iters) / float64(res.Market.Cleared)
	}
	if res.Market.Intervals == 0 || math.IsInf(res.Market.PriceMin, 0) {
		res.Market.PriceMin, res.Market.PriceMax = 0, 0
	}
	res.Payments.Transfers, res.Payments.Failed = r.pay.transfers, r.pay.failed
	res.Mesh = r.mesh.summary(len(r.members), res.Market.Intervals)
	// A mediated payment returns once its first hop is unlocked; the hops behind it finish on their own.
	// Wait for the channels to agree before reading them.
	var sent, received float64
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		sent, received, err = r.pay.channelTotals()
		if (sent == received && err == nil) || time.Now().After(deadline) {
			break
		}
	}
	res.Payments.Paid, res.Payments.Received = sent, received
	return res, err
}

// SetSchedule gives the unit the market's commitment for the current period. It must be called from
// the goroutine that runs Cycle, between cycles.
func (u *Unit) SetSchedule(s fractals.Schedule) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.state.Schedule = s
}
