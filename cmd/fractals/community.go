package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/fractals-energy/fractals/auction"
	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/internal/cli"
	"github.com/fractals-energy/fractals/internal/units"
)

// communityFlags are the flags of `fractals sim` that make the units one trading community.
type communityFlags struct {
	market      bool
	feeder      string
	buses       string
	method      string
	interval    time.Duration
	horizon     time.Duration
	networkRate float64
	loadScale   float64
	liars       string
	meshDrop    float64
	meshJitter  time.Duration
	dumpMarket  string
	partition   string
	record      bool
	adversary   string
}

// communityFlagsOn registers the community flags on the sim's flag set.
func communityFlagsOn(fs *flag.FlagSet) *communityFlags {
	d := firmware.DefaultCommunityOptions()
	c := &communityFlags{method: string(d.Method), interval: d.Market.Interval, horizon: d.Market.Horizon,
		networkRate: float64(d.NetworkRate), loadScale: d.FeederLoadScale}
	fs.BoolVar(&c.market, "market", false, "the units trade as one community: market every interval, settlement, payment channels")
	fs.StringVar(&c.feeder, "feeder", "", "MATPOWER case the community sits on (implies --market)")
	fs.StringVar(&c.buses, "feeder-buses", "", "comma-separated bus of each unit (default: the case's load buses in order)")
	fs.StringVar(&c.method, "market-method", c.method, "how each interval clears: consensus (a market peer per unit over the in-memory mesh, no centre), distributed (ADMM exchange in process) or central")
	fs.StringVar(&c.dumpMarket, "dump-market", "", "directory that receives each interval's bilateral market for `fractals auction solve --in FILE` (consensus)")
	fs.DurationVar(&c.interval, "market-interval", c.interval, "market interval and period, [5m, 60m]")
	fs.DurationVar(&c.horizon, "horizon", c.horizon, "receding horizon of each interval's market, [interval, 168h]")
	fs.Float64Var(&c.networkRate, "network-rate", c.networkRate, "network charge per kWh of an average-distance trade")
	fs.Float64Var(&c.loadScale, "feeder-load-scale", c.loadScale, "scale of the case's own loads, [0, 10] (0: only the community)")
	fs.StringVar(&c.liars, "liars", "", "comma-separated units (0-based) whose signed meter readings understate their import")
	fs.Float64Var(&c.meshDrop, "mesh-drop", 0, "probability that the in-memory mesh loses a message, [0, 1]")
	fs.DurationVar(&c.meshJitter, "mesh-jitter", 0, "uniform jitter on the in-memory mesh's 5 ms latency, [0, 15s]")
	fs.StringVar(&c.partition, "partition", "", "HH:MM-HH:MM: the mesh and the channels between unit 1's half of the tree and the rest are cut for that window of the day (consensus clears each half)")
	fs.StringVar(&c.adversary, "adversary", "", "N:forge+replay+flood: unit N (consensus) forges market envelopes in others' names, replays its old bids and/or floods its neighbours; the summary's attacks section says what came of it")
	fs.BoolVar(&c.record, "record-intervals", false, "add every market interval (clearing, prices, trades, metered PV, EV, critical load, storage) to --json")
	return c
}

func (c *communityFlags) enabled() bool { return c.market || c.feeder != "" }

// options builds the community run from the sim's options and these flags.
// A community left without --units has the default community's three.
func (c *communityFlags) options(fs *flag.FlagSet, sim firmware.SimOptions) (firmware.CommunityOptions, error) {
	o := firmware.DefaultCommunityOptions()
	unitsSet := false
	fs.Visit(func(f *flag.Flag) { unitsSet = unitsSet || f.Name == "units" })
	if !unitsSet {
		sim.Units = o.Sim.Units
	}
	o.Sim, o.Feeder, o.Method = sim, c.feeder, auction.Method(c.method)
	o.Market.Interval, o.Market.Horizon = c.interval, c.horizon
	o.NetworkRate, o.FeederLoadScale = units.PricePerKWh(c.networkRate), c.loadScale
	o.MeshDrop, o.MeshJitter = c.meshDrop, c.meshJitter
	o.DumpMarket = c.dumpMarket
	o.RecordIntervals = c.record
	var err error
	if o.Partition, err = dayWindow("--partition", c.partition); err != nil {
		return o, err
	}
	if o.Adversary, err = adversary(c.adversary); err != nil {
		return o, err
	}
	if o.FeederBuses, err = intList("--feeder-buses", c.buses); err != nil {
		return o, err
	}
	if o.Liars, err = intList("--liars", c.liars); err != nil {
		return o, err
	}
	return o, nil
}

// adversary reads N:forge+replay+flood ("" is none).
func adversary(s string) (*firmware.Adversary, error) {
	if s == "" {
		return nil, nil
	}
	unit, moves, ok := strings.Cut(s, ":")
	n, err := strconv.Atoi(unit)
	if !ok || err != nil || moves == "" {
		return nil, fmt.Errorf("--adversary %q: want N:forge+replay+flood", s)
	}
	a := &firmware.Adversary{Unit: n}
	for _, m := range strings.Split(moves, "+") {
		switch m {
		case "forge":
			a.Forge = true
		case "replay":
			a.Replay = true
		case "flood":
			a.Flood = true
		default:
			return nil, fmt.Errorf("--adversary %q: move %q, want forge, replay or flood", s, m)
		}
	}
	return a, nil
}

// dayWindow reads HH:MM-HH:MM ("" is no window).
func dayWindow(flagName, s string) (*firmware.DayWindow, error) {
	if s == "" {
		return nil, nil
	}
	from, to, ok := strings.Cut(s, "-")
	f, err1 := time.Parse("15:04", strings.TrimSpace(from))
	t, err2 := time.Parse("15:04", strings.TrimSpace(to))
	if !ok || err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%s %q: want HH:MM-HH:MM", flagName, s)
	}
	midnight := func(x time.Time) time.Duration {
		return time.Duration(x.Hour())*time.Hour + time.Duration(x.Minute())*time.Minute
	}
	return &firmware.DayWindow{From: midnight(f), To: midnight(t)}, nil
}

func intList(flagName, s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for i, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%s: item %d %q is not an integer", flagName, i, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// runCommunity runs and prints a community simulation.
func runCommunity(ctx context.Context, o firmware.CommunityOptions, asJSON bool, stdout, stderr io.Writer) int {
	r, err := firmware.SimulateCommunity(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "fractals sim: %v\n", err)
		return cli.ExitFailure
	}
	if asJSON {
		return writeJSON(stdout, stderr, "fractals sim", r, false)
	}
	printSim(stdout, r.SimResult)
	m, p := r.Market, r.Payments
	fmt.Fprintf(stdout, "market      %d/%d intervals cleared, iterations mean %.1f max %d, %d trades, price %.3f..%.3f\n",
		m.Cleared, m.Intervals, m.IterationsMean, m.IterationsMax, m.Trades, m.PriceMin, m.PriceMax)
	fmt.Fprintf(stdout, "            welfare %.3f, central optimum %.3f (largest interval gap %.4f %%), largest unit imbalance %.0f Wh\n",
		m.Welfare, m.Central, 100*m.MaxGap, m.MaxImbalanceWh)
	if m.Method == string(firmware.MethodConsensus) {
		fmt.Fprintf(stdout, "            consensus over the mesh: largest absolute interval gap %.6f, %d neighbours dropped, %d trades whose sides disagree, negotiation %.2f s mean, %.2f s max (simulated)\n",
			m.MaxGapAbs, m.Dropped, m.TradeMismatches, m.NegotiationMeanS, m.NegotiationMaxS)
	}
	if m.Partitioned > 0 || m.Unchecked > 0 {
		fmt.Fprintf(stdout, "            %d intervals cleared in separate parts (partition), %d without a central reference (solver gave up)\n", m.Partitioned, m.Unchecked)
	}
	if a := r.Attacks; a != nil {
		fmt.Fprintf(stdout, "attacks     sent %d forged, %d replayed, %d flood; honest peers refused %d, honest mesh nodes rejected %d, adversary cut off: %v\n",
			a.Forged, a.Replayed, a.Flooded, a.Refused, a.Rejected, a.Disconnected)
	}
	fmt.Fprintf(stdout, "payments    %d transfers, paid %.6f, received %.6f, failed %d, held %d; grid %.4f / %.4f, network %.4f\n",
		p.Transfers, p.Paid, p.Received, p.Failed, p.Held, p.ToGrid, p.FromGrid, p.Network)
	if f := r.Feeder; f != nil {
		fmt.Fprintf(stdout, "feeder      %s at %.2f of its loads: losses %.0f Wh (units' share %.0f Wh), voltage %.4f..%.4f p.u., %d of %d periods outside 0.95-1.05, %d of them by the units' doing\n",
			f.Case, f.LoadScale, f.LossesWh, f.UnitsLossesWh, f.MinVoltage, f.MaxVoltage, f.OutsideBand, f.Periods, f.OutsideBandByUnits)
		fmt.Fprintf(stdout, "            without the units the feeder sits at %.4f p.u. (bus %d)..%.4f p.u.\n", f.BaseMinVoltage, f.BaseMinBus, f.BaseMaxVoltage)
	}
	if ms := r.Mesh; ms != nil {
		fmt.Fprintf(stdout, "mesh        %s (meter readings; market messages too with consensus): %d messages (%.1f per unit per interval), %d bytes (%.0f per unit per interval), %d lost, readings missing %d, refused %d\n",
			ms.Kind, ms.Messages, ms.MessagesPerUnitPerInterval, ms.Bytes, ms.BytesPerUnitPerInterval, ms.Lost, ms.Missing, ms.Refused)
	}
	for _, d := range p.Disagreements {
		fmt.Fprintf(stdout, "recorded    %s\n", d)
	}
	return cli.ExitOK
}
