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
	// RecordIntervals keeps an IntervalRecord of every market interval in the result.
	RecordIntervals bool
	// Partition, when set, splits the community in two for that window of the day: the mesh link and
	// the payment channel between unit 1 and unit 0 are cut, leaving unit 1's subtree of the binary
	// tree (1, 3, 4, 7, 8, 9, ...) on one side and the rest on the other.
	Partition *DayWindow
	// Adversary, when set, is a unit of a consensus market that forges, replays or floods.
	Adversary *Adversary
	// RepeatPayments pays every intent a second time with the same id, as a unit that restarted
	// before it recorded the first payment would: the ledger must not pay it twice.
	RepeatPayments bool
}

// DayWindow is a span of the day, from From to To after midnight.
type DayWindow struct{ From, To time.Duration }

// contains is whether t falls in the window.
func (w *DayWindow) contains(t time.Time) bool {
	if w == nil {
		return false
	}
	d := t.Sub(t.Truncate(24 * time.Hour))
	return d >= w.From && d < w.To
}

// defaultFeederLoadScale is the share of a case's own loads the default feeder carries. The
// distribution benchmarks give their peak load: case33bw at full load sits at 0.913 p.u. at bus 18
// with no unit on it (MATPOWER's own figure), below the band before the community does anything; at
// half its peak, a daytime load, it sits at 0.958 p.u., so a period outside the band is news.
const defaultFeederLoadScale = 0.5

// DefaultCommunityOptions is three units on case33bw's feeder with the default market, cleared by consensus.
func DefaultCommunityOptions() CommunityOptions {
	o := CommunityOptions{Sim: DefaultSimOptions(), Market: fractals.DefaultMarketConfig(), Method: MethodConsensus, NetworkRate: 0.01,
		FeederLoadScale: defaultFeederLoadScale}
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
	// Unchecked counts cleared intervals whose central reference did not solve (the interior point
	// of auction.SolveCommunity or auction.Solve gave up): their welfare is in neither sum and their
	// gap is unknown. CentralErrors names the first few.
	Unchecked int `json:"unchecked_intervals"`
	// NegotiationMeanS and NegotiationMaxS are the simulated time the consensus peers took to commit
	// an interval (they grow with the mesh's loss and delay).
	NegotiationMeanS float64 `json:"negotiation_mean_s"`
	NegotiationMaxS  float64 `json:"negotiation_max_s"`
	// Partitioned counts intervals the mesh was in more than one part (consensus).
	Partitioned   int      `json:"partitioned_intervals"`
	CentralErrors []string `json:"central_errors,omitempty"`
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
	// Repeated counts intents paid a second time with the same id (CommunityOptions.RepeatPayments).
	Repeated int `json:"repeated"`
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
	// OutsideBand counts periods with a voltage outside 0.95–1.05 p.u. somewhere on the feeder;
	// OutsideBandByUnits those where the units' injections pushed a voltage outside the band beyond
	// where the feeder's own loads put it (BaseMinVoltage at BaseMinBus, BaseMaxVoltage: the power
	// flow with the units at zero).
	OutsideBand        int     `json:"periods_outside_band"`
	OutsideBandByUnits int     `json:"periods_outside_band_by_units"`
	BaseMinVoltage     float64 `json:"base_min_voltage_pu"`
	BaseMinBus         int     `json:"base_min_bus"`
	BaseMaxVoltage     float64 `json:"base_max_voltage_pu"`
	LoadScale          float64 `json:"load_scale"`
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
	// Attacks is what the adversary did and what came of it (CommunityOptions.Adversary).
	Attacks *AttackSummary `json:"attacks,omitempty"`
	// Intervals, with CommunityOptions.RecordIntervals, is every market interval in order.
	Intervals []IntervalRecord `json:"intervals,omitempty"`
}

// IntervalRecord is one market interval as the run saw it: how it cleared and what the community's
// plants metered over the period that followed (summed over the units).
type IntervalRecord struct {
	Start      time.Time `json:"start"`
	Cleared    bool      `json:"cleared"`
	Iterations int       `json:"iterations"`
	// NegotiationSeconds is the simulated time the consensus peers took to commit (mesh latency,
	// resends, silence timeouts); WallMillis the real time the interval's clearing took.
	NegotiationSeconds float64 `json:"negotiation_s"`
	WallMillis         float64 `json:"wall_ms"`
	Price              float64 `json:"price"`
	// EquilibriumPrice is the mean over the units of the binding period's price at the central
	// optimum of the same bids (the price the negotiation converges to; consensus only).
	EquilibriumPrice float64 `json:"equilibrium_price"`
	// TradeIDs are the binding period's trades, "seller>buyer".
	TradeIDs []string `json:"trade_ids,omitempty"`
	// Parts is how many separate markets the mesh's links made (consensus: 2 while partitioned).
	Parts  int     `json:"parts"`
	Trades int     `json:"trades"`
	Gap    float64 `json:"gap"`
	// What the plants metered over the period.
	PVWh               float64 `json:"pv_wh"`
	EVWh               float64 `json:"ev_wh"`
	CriticalWh         float64 `json:"critical_wh"`
	CriticalUnservedWh float64 `json:"critical_unserved_wh"`
	// MinVoltage and MaxVoltage are the feeder's extremes over the period (with a feeder).
	MinVoltage float64 `json:"min_voltage_pu,omitempty"`
	MaxVoltage float64 `json:"max_voltage_pu,omitempty"`
	// StoredWh is the energy in the community's batteries at the period's end.
	StoredWh float64 `json:"stored_wh"`
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
	// meterAt is the plant's import minus export at the start of the period, Wh; countersAt all its
	// counters then.
	meterAt    units.WattHours
	countersAt hil.Counters
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
	if a := o.Adversary; a != nil && (a.Unit < 0 || a.Unit >= o.Sim.Units || o.Method != MethodConsensus) {
		return fmt.Errorf("adversary %d: want a unit (0..%d) of a consensus market", a.Unit, o.Sim.Units-1)
	}
	if w := o.Partition; w != nil && !(w.From >= 0 && w.From < w.To && w.To <= 24*time.Hour) {
		return fmt.Errorf("--partition %v-%v: want a window of the day, start before end", w.From, w.To)
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
	// interval is the record of the interval being cleared and settled.
	interval    IntervalRecord
	negotiation time.Duration // summed over the intervals
	// cut is whether the partition is in force.
	cut bool
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
		r.res.Feeder = &FeederSummary{Case: f.Case.Name, MinVoltage: math.Inf(1), MaxVoltage: math.Inf(-1),
			BaseMinVoltage: base.MinVoltage, BaseMinBus: base.MinBus, BaseMaxVoltage: base.MaxVoltage, LoadScale: o.FeederLoadScale}
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
		r.consensus.adversary = o.Adversary
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

// The voltage band every period is checked against, p.u., and the power flow's slack in comparing
// a period with the base case.
const (
	bandLow, bandHigh = 0.95, 1.05
	voltageSlack      = 1e-6
)

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
			r.partition(now)
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

// partition cuts or heals the link between unit 1 and unit 0, on the mesh and between their
// payment channels' ledger nodes, as the partition window says for now.
func (r *communityRun) partition(now time.Time) {
	cut := r.o.Partition.contains(now)
	if cut == r.cut || len(r.members) < 2 {
		return
	}
	r.cut = cut
	a, b := r.mesh.nodes[1].Self(), r.mesh.nodes[0].Self()
	if cut {
		r.mesh.net.Disconnect(a, b)
	} else if err := r.mesh.net.Connect(a, b); err != nil {
		r.res.Payments.Disagreements = appendCapped(r.res.Payments.Disagreements, []string{err.Error()})
	}
	r.pay.hub.SetLink(r.pay.nodes[1].Address(), r.pay.nodes[0].Address(), !cut)
}

// uncheckedInterval records an interval whose central reference did not solve.
func (r *communityRun) uncheckedInterval(now time.Time, err error) {
	mr := &r.res.Market
	mr.Unchecked++
	mr.CentralErrors = appendCapped(mr.CentralErrors, []string{fmt.Sprintf("interval %v: central reference: %v", now.Format(time.RFC3339), err)})
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
		m.countersAt = m.plant.Counters()
		m.meterAt = m.countersAt.GridImport - m.countersAt.GridExport
	}
	r.interval = IntervalRecord{Start: now}
	wall := time.Now()
	defer func() { r.interval.WallMillis = float64(time.Since(wall).Microseconds()) / 1000 }()
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
			r.uncheckedInterval(now, err)
			central.Welfare = sol.Welfare
		}
	}
	mr.Cleared++
	r.interval.Cleared, r.interval.Iterations = true, sol.Iterations
	r.iters += sol.Iterations
	mr.IterationsMax = max(mr.IterationsMax, sol.Iterations)
	mr.MaxImbalanceW = max(mr.MaxImbalanceW, sol.MaxImbalanceW)
	mr.Welfare += sol.Welfare
	mr.Central += central.Welfare
	if central.Welfare != 0 {
		r.interval.Gap = math.Abs(central.Welfare-sol.Welfare) / math.Abs(central.Welfare)
		mr.MaxGap = max(mr.MaxGap, r.interval.Gap)
	}
	charge := func(i, j int) units.PricePerKWh { return r.feeder.NetworkCharge(i, j, r.o.NetworkRate) }
	if r.feeder == nil {
		charge = func(int, int) units.PricePerKWh { return r.o.NetworkRate }
	}
	r.current = commitFirstPeriod(r.names, sol, mc.ImportPriceAt(now), mc.ExportPrice, now, mc.Interval, charge)
	mr.Trades += len(r.current.trades)
	r.interval.Trades, r.interval.Price = len(r.current.trades), float64(r.current.price)
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
		if fr.MinVoltage < bandLow || fr.MaxVoltage > bandHigh {
			fs.OutsideBand++
		}
		// The units' doing: outside the band and further out than the feeder is on its own loads.
		if fr.MinVoltage < min(bandLow, fs.BaseMinVoltage)-voltageSlack || fr.MaxVoltage > max(bandHigh, fs.BaseMaxVoltage)+voltageSlack {
			fs.OutsideBandByUnits++
		}
		r.interval.MinVoltage, r.interval.MaxVoltage = fr.MinVoltage, fr.MaxVoltage
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
	r.recordPeriod(c)
	return nil
}

// recordPeriod adds what the plants metered over the period that ends now to the interval's record
// and keeps the record.
func (r *communityRun) recordPeriod(c cleared) {
	if !r.o.RecordIntervals {
		return
	}
	rec := r.interval
	for _, t := range c.trades {
		rec.TradeIDs = append(rec.TradeIDs, t.ID)
	}
	for _, m := range r.members {
		c, at := m.plant.Counters(), m.countersAt
		rec.PVWh += float64(c.PV - at.PV)
		rec.EVWh += float64(c.EV - at.EV)
		rec.CriticalWh += float64(c.Served[hil.Critical] - at.Served[hil.Critical])
		rec.CriticalUnservedWh += float64(c.Unserved[hil.Critical] - at.Unserved[hil.Critical])
		rec.StoredWh += float64(m.plant.Battery().Stored)
	}
	r.res.Intervals = append(r.res.Intervals, rec)
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
			if r.o.RepeatPayments {
				sent, err := r.pay.repeat(ctx, in)
				if err != nil {
					pr.Disagreements = appendCapped(pr.Disagreements, []string{"repeated " + err.Error()})
				}
				if sent {
					pr.Repeated++
				}
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
	if res.Market.Intervals > 0 {
		res.Market.NegotiationMeanS = r.negotiation.Seconds() / float64(res.Market.Intervals)
	}
	if res.Market.Intervals == 0 || math.IsInf(res.Market.PriceMin, 0) {
		res.Market.PriceMin, res.Market.PriceMax = 0, 0
	}
	res.Payments.Transfers, res.Payments.Failed = r.pay.transfers, r.pay.failed
	res.Mesh = r.mesh.summary(len(r.members), res.Market.Intervals)
	if r.consensus != nil {
		res.Attacks = r.consensus.attackSummary()
	}
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
