package firmware

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/grid/ieee1547"
	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/hil/scenario"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

// A scenario of several units runs them on one community feeder (hil.Community): each unit's own
// controller on its own simulated devices, the grid events at the feeder head, the community islanding
// together with the batteries sharing by droop.

// communityDroop is every battery's P–f droop on the community feeder: 1 % of nominal per rated
// power, so a community of 5 kW units drifts 0.1 Hz per 10 kW of imbalance, inside the units'
// island detectors' 0.58 Hz band: the units stay on the feeder and share.
const communityDroop = 0.01

// CommunitySummary is what a community scenario measured at the feeder.
type CommunitySummary struct {
	Units         int             `json:"units"`
	Feeder        string          `json:"feeder,omitempty"`
	HeadOpenedS   []float64       `json:"head_opened_s"`
	HeadClosedS   []float64       `json:"head_closed_s"`
	WorstShareDev float64         `json:"worst_share_deviation"` // |share − rating share|, fraction of the imbalance
	MaxImbalanceW float64         `json:"max_imbalance_w"`       // largest imbalance the droop carried
	MinVoltage    float64         `json:"min_voltage_pu"`
	MaxVoltage    float64         `json:"max_voltage_pu"`
	UnitPhases    [][]PhaseChange `json:"unit_phases"`
}

// feederRun is what a community scenario measures for its assertions.
type feederRun struct {
	scenarioRun
	phases      [][]PhaseChange
	lastPhases  []fractals.Phase
	lastLoads   [][fractals.NumLoads]bool
	headWas     bool
	fIslandMax  float64
	sum         CommunitySummary
	ratingShare []float64
}

func communityPlants(s *scenario.Scenario) ([]hil.Config, error) {
	var out []hil.Config
	for i := range s.Units {
		o := DefaultSimOptions()
		o.Day, o.PVKW, o.BatteryKWh, o.EVKWh, o.Seed = s.Day, s.PVKW, s.BatteryKWh, s.EVKWh, s.Seed
		if len(s.BatteriesKWh) > 0 {
			o.BatteryKWh = s.BatteriesKWh[i]
		}
		pc := o.PlantConfig(i)
		pc.Start = pc.Start.Add(s.Start)
		pc.Battery.InitialSoC = units.Fraction(s.SoC)
		out = append(out, pc)
	}
	return out, nil
}

// runCommunityScenario runs a scenario of s.Units units on one feeder.
func runCommunityScenario(ctx context.Context, s *scenario.Scenario, tune func(*fractals.Config)) (ScenarioResult, error) {
	wall := time.Now()
	pcs, err := communityPlants(s)
	if err != nil {
		return ScenarioResult{}, err
	}
	cc := hil.CommunityConfig{Units: pcs, Outages: outagesOf(s), FreqDroop: communityDroop, EnterService: 300 * time.Second}
	if s.Feeder != "" {
		fd, err := LoadFeeder(s.Feeder, s.Units, nil)
		if err != nil {
			return ScenarioResult{}, err
		}
		cc.Case, cc.Buses = fd.Case, fd.Buses
	}
	com, err := hil.NewCommunity(cc)
	if err != nil {
		return ScenarioResult{}, err
	}
	step := ScenarioStep
	if s.Step > 0 {
		step = s.Step
	}
	clk := clock.NewSim(pcs[0].Start)
	var unitsRun []*Unit
	for i, p := range com.Plants() {
		u, err := scenarioUnitFor(p, pcs[i], step, ieee1547.Category(max(s.Category, 2)), clk, tune)
		if err != nil {
			return ScenarioResult{}, fmt.Errorf("unit %d: %w", i, err)
		}
		unitsRun = append(unitsRun, u)
	}
	r := newFeederRun(s, pcs)
	res := ScenarioResult{Name: s.Name}
	steps := int(s.Duration / step)
	for n := range steps {
		if n%1024 == 0 && ctx.Err() != nil {
			return ScenarioResult{}, ctx.Err()
		}
		elapsed := time.Duration(n) * step
		for _, u := range unitsRun {
			_ = u.Cycle(ctx) // simulated devices do not fail
		}
		r.observe(&res, com, unitsRun, elapsed, s)
		if err := com.Advance(step); err != nil {
			return ScenarioResult{}, err
		}
		clk.Advance(step)
	}
	var runs []unitRun
	for i, p := range com.Plants() {
		runs = append(runs, unitRun{counters: p.Counters(), cfg: pcs[i]})
	}
	o := DefaultSimOptions()
	o.Duration = s.Duration
	sum := summarise(o, runs)
	res.SimSeconds, res.Energy = s.Duration.Seconds(), sum.Energy
	res.SoCLow, res.SoCFloor = sum.Battery.SoCMin, sum.Battery.SoCFloor
	r.sum.Units, r.sum.Feeder, r.sum.UnitPhases = s.Units, s.Feeder, r.phases
	res.Phases = r.phases[0]
	res.Verdicts = r.verdicts(s, &res, com)
	res.Community = &r.sum
	res.Pass = true
	for _, v := range res.Verdicts {
		res.Pass = res.Pass && v.Pass
	}
	res.WallSeconds = time.Since(wall).Seconds()
	return res, nil
}

func newFeederRun(s *scenario.Scenario, pcs []hil.Config) *feederRun {
	r := &feederRun{scenarioRun: scenarioRun{fMin: math.Inf(1), fMax: math.Inf(-1)}, headWas: true,
		phases: make([][]PhaseChange, s.Units), lastPhases: make([]fractals.Phase, s.Units),
		lastLoads: make([][fractals.NumLoads]bool, s.Units), fIslandMax: math.Inf(-1)}
	r.sum.MinVoltage, r.sum.MaxVoltage = math.Inf(1), math.Inf(-1)
	total := 0.0
	for _, pc := range pcs {
		total += float64(pc.Battery.MaxDischarge)
	}
	for i := range pcs {
		r.lastPhases[i] = 255
		r.ratingShare = append(r.ratingShare, float64(pcs[i].Battery.MaxDischarge)/total)
	}
	for _, e := range s.Events {
		switch {
		case e.IsLoss():
			r.losses = append(r.losses, e.At)
		case e.Kind == scenario.GridReturn:
			r.returns = append(r.returns, e.At)
		}
	}
	return r
}

func (r *feederRun) observe(res *ScenarioResult, com *hil.Community, us []*Unit, elapsed time.Duration, s *scenario.Scenario) {
	cs := com.State()
	if cs.HeadClosed != r.headWas {
		r.pccOps++
		if !cs.HeadClosed && len(r.openedAt) < len(r.losses) && elapsed >= r.losses[len(r.openedAt)] {
			r.openedAt = append(r.openedAt, elapsed)
			r.sum.HeadOpenedS = append(r.sum.HeadOpenedS, elapsed.Seconds())
		}
		if cs.HeadClosed {
			r.closedAt = append(r.closedAt, elapsed)
			r.sum.HeadClosedS = append(r.sum.HeadClosedS, elapsed.Seconds())
		}
		r.headWas = cs.HeadClosed
	}
	f := float64(cs.Frequency)
	if !nearEvent(elapsed, s) {
		r.fMin, r.fMax = math.Min(r.fMin, f), math.Max(r.fMax, f)
	}
	if cs.Islanded {
		r.fIslandMax = math.Max(r.fIslandMax, f)
		r.shares(cs)
	}
	for _, v := range cs.Voltages {
		r.sum.MinVoltage, r.sum.MaxVoltage = math.Min(r.sum.MinVoltage, float64(v)), math.Max(r.sum.MaxVoltage, float64(v))
	}
	var pv, bat, grid, load, soc, svc float64
	for i, u := range us {
		st := u.Status()
		if ph := st.State.Island.Phase; ph != r.lastPhases[i] {
			r.phases[i] = append(r.phases[i], PhaseChange{AtSeconds: elapsed.Seconds(), Phase: ph.String(), Reason: st.State.Island.Reason})
			r.lastPhases[i] = ph
		}
		for k, on := range st.Desired.LoadOn {
			if elapsed > 0 && on != r.lastLoads[i][k] {
				r.loadOps++
			}
			r.lastLoads[i][k] = on
		}
		p := com.Plants()[i]
		b, g := p.Battery(), p.Grid()
		pv, bat, grid = pv+float64(p.PVOutput()), bat+float64(b.Power), grid+float64(g.Power)
		load += float64(p.Load(hil.Critical).Power + p.Load(hil.WiFi).Power + p.Load(hil.Storage).Power)
		soc += float64(b.SoC) / float64(len(us))
		svc = math.Max(svc, float64(st.Desired.ServiceStep))
	}
	ser := &res.Series
	ser.Hours = append(ser.Hours, elapsed.Hours())
	ser.PV, ser.Battery, ser.Grid, ser.Load = append(ser.PV, pv), append(ser.Battery, bat), append(ser.Grid, grid), append(ser.Load, load)
	ser.SoC, ser.Frequency = append(ser.SoC, soc), append(ser.Frequency, f)
	ser.Voltage = append(ser.Voltage, 230*float64(slices.Min(cs.Voltages)))
	head := 0.0
	if cs.Islanded {
		head = float64(fractals.PhaseIslanded)
	}
	ser.Phase, ser.Services = append(ser.Phase, head), append(ser.Services, svc)
}

// shares checks each battery's droop share of a sizeable imbalance against its rating's share.
func (r *feederRun) shares(cs hil.CommunityState) {
	var total float64
	for _, w := range cs.Share {
		total += float64(w)
	}
	r.sum.MaxImbalanceW = math.Max(r.sum.MaxImbalanceW, math.Abs(float64(cs.Imbalance)))
	if math.Abs(total) < 100 {
		return // too small to measure a share of
	}
	for i, w := range cs.Share {
		r.sum.WorstShareDev = math.Max(r.sum.WorstShareDev, math.Abs(float64(w)/total-r.ratingShare[i]))
	}
}

func (r *feederRun) verdicts(s *scenario.Scenario, res *ScenarioResult, com *hil.Community) []Verdict {
	var unserved, curtailed float64
	for _, p := range com.Plants() {
		c := p.Counters()
		unserved += float64(c.Unserved[hil.Critical])
		curtailed += float64(c.PVCurtailed)
	}
	var out []Verdict
	for _, a := range s.Assertions {
		v := Verdict{Kind: a.Kind}
		switch a.Kind {
		case "detection_time", "cessation_time":
			worst := time.Duration(0)
			for i, at := range r.openedAt {
				worst = max(worst, at-r.losses[i])
			}
			v.Want, v.Value = "≤ "+a.Within.String(), worst.Seconds()
			v.Measured = fmt.Sprintf("%v (feeder head open after %d of %d losses)", worst, len(r.openedAt), len(r.losses))
			v.Pass = len(r.openedAt) == len(r.losses) && worst <= a.Within
		case "critical_unserved":
			v.Value, v.Want, v.Measured = unserved, fmt.Sprintf("≤ %g Wh", *a.Max), fmt.Sprintf("%.1f Wh (all units)", unserved)
			v.Pass = unserved <= *a.Max
		case "soc":
			v.Value, v.Want, v.Measured = res.SoCLow, fmt.Sprintf("≥ %g", *a.Min), fmt.Sprintf("%.3f (lowest unit)", res.SoCLow)
			v.Pass = res.SoCLow >= *a.Min
		case "frequency":
			v.Value, v.Want, v.Measured = r.fMin, fmt.Sprintf("%g..%g Hz", *a.Min, *a.Max), fmt.Sprintf("%.3f..%.3f Hz (feeder)", r.fMin, r.fMax)
			v.Pass = r.fMin >= *a.Min && r.fMax <= *a.Max
		case "phases":
			v.Want, v.Pass = strings.Join(a.Sequence, " → "), true
			var got []string
			for i, ph := range r.phases {
				names := make([]string, len(ph))
				for j, c := range ph {
					names[j] = c.Phase
				}
				got = append(got, fmt.Sprintf("unit %d: %s", i, strings.Join(names, " → ")))
				v.Pass = v.Pass && slices.Equal(names, a.Sequence)
			}
			v.Measured = strings.Join(got, "; ")
		case "reconnect_delay":
			shortest := math.Inf(1)
			for i, ret := range r.returns {
				if i < len(r.closedAt) && r.closedAt[i] >= ret {
					shortest = math.Min(shortest, (r.closedAt[i] - ret).Seconds())
				}
			}
			v.Value, v.Want, v.Measured = shortest, fmt.Sprintf("≥ %g s", *a.Min), fmt.Sprintf("%g s (feeder head)", shortest)
			v.Pass = len(r.returns) > 0 && len(r.closedAt) == len(r.returns) && shortest >= *a.Min
		case "pcc_operations":
			v.Value, v.Want, v.Measured = float64(r.pccOps), fmt.Sprintf("≤ %g", *a.Max), fmt.Sprintf("%d (feeder head)", r.pccOps)
			v.Pass = v.Value <= *a.Max
		case "relay_chatter":
			v.Value = float64(r.loadOps) / s.Duration.Hours() / float64(s.Units)
			v.Want, v.Measured = fmt.Sprintf("≤ %g per hour", *a.Max), fmt.Sprintf("%.2f per hour per unit (%d changes)", v.Value, r.loadOps)
			v.Pass = v.Value <= *a.Max
		case "pv_curtailed":
			v.Value, v.Want, v.Measured = curtailed, fmt.Sprintf("≥ %g Wh", *a.Min), fmt.Sprintf("%.0f Wh (all units)", curtailed)
			v.Pass = curtailed >= *a.Min
		case "frequency_rise":
			v.Value = math.Max(0, r.fIslandMax-float64(com.Plants()[0].Config().Grid.NominalFrequency))
			v.Want, v.Measured = fmt.Sprintf("≥ %g Hz", *a.Min), fmt.Sprintf("%.3f Hz", v.Value)
			v.Pass = v.Value >= *a.Min
		case "droop_sharing":
			v.Value, v.Want = r.sum.WorstShareDev, fmt.Sprintf("≤ %g of the imbalance", *a.Max)
			v.Measured = fmt.Sprintf("%.4f (largest imbalance carried %.0f W)", r.sum.WorstShareDev, r.sum.MaxImbalanceW)
			v.Pass = r.sum.MaxImbalanceW > 0 && r.sum.WorstShareDev <= *a.Max
		}
		out = append(out, v)
	}
	return out
}
