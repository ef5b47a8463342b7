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

// ScenarioStep is the control cycle of a scenario run; at 1 s the cycle is also the protection tick.
const ScenarioStep = time.Second

// Verdict is one assertion's measured value and whether it held.
type Verdict struct {
	Kind     string  `json:"kind"`
	Want     string  `json:"want"`
	Measured string  `json:"measured"`
	Value    float64 `json:"value"`
	Pass     bool    `json:"pass"`
}

// ScenarioSeries are the per-step recordings a report plots (every step of the run).
type ScenarioSeries struct {
	Hours     []float64 `json:"-"`
	PV        []float64 `json:"-"`
	Battery   []float64 `json:"-"`
	Grid      []float64 `json:"-"`
	Load      []float64 `json:"-"`
	SoC       []float64 `json:"-"`
	Frequency []float64 `json:"-"`
	Voltage   []float64 `json:"-"`
	Phase     []float64 `json:"-"` // island phase index
	Services  []float64 `json:"-"` // service step
}

// ScenarioResult is a scenario run: its assertions' verdicts, the phases passed through with their
// reasons, and the series.
type ScenarioResult struct {
	Name        string           `json:"name"`
	Pass        bool             `json:"pass"`
	SimSeconds  float64          `json:"sim_seconds"`
	WallSeconds float64          `json:"wall_seconds"`
	Verdicts    []Verdict        `json:"assertions"`
	Phases      []PhaseChange    `json:"phases"`
	Energy      EnergyResult     `json:"energy_wh"`
	SoCLow      float64          `json:"soc_low"`   // lowest state of charge reached
	SoCFloor    float64          `json:"soc_floor"` // the BMS's lower limit
	Series      ScenarioSeries   `json:"-"`
	Events      []fractals.Event `json:"events"`
	// Community is the feeder's side of a scenario of several units (communityscenario.go).
	Community *CommunitySummary `json:"community,omitempty"`
}

// PhaseChange is one transition of the island state machine.
type PhaseChange struct {
	AtSeconds float64 `json:"at_s"`
	Phase     string  `json:"phase"`
	Reason    string  `json:"reason"`
}

// scenarioRun is what the run measures for the assertions.
type scenarioRun struct {
	losses, returns []time.Duration
	openedAt        []time.Duration // first step after each loss with the PCC commanded open
	ceasedAt        []time.Duration // first step after each loss the unit no longer energises the utility's side
	closedAt        []time.Duration // each reconnection (phase back to connected)
	pccOps          int
	loadOps         int
	fMin, fMax      float64
	lastPCC         bool
	lastLoads       [fractals.NumLoads]bool
	lastPhase       fractals.Phase
	fIslandMax      float64 // highest frequency while islanded (PCC open)
}

// RunScenario runs a scenario in simulated time through the simulated devices (the same der
// interfaces the rig's drivers implement) and checks its assertions.
func RunScenario(ctx context.Context, s *scenario.Scenario) (ScenarioResult, error) {
	return runScenario(ctx, s, nil)
}

// runScenario is RunScenario with the unit's controller configuration changed by tune (tests turn a
// capability off to show what it is for).
func runScenario(ctx context.Context, s *scenario.Scenario, tune func(*fractals.Config)) (ScenarioResult, error) {
	if s.Units > 1 {
		return runCommunityScenario(ctx, s, tune)
	}
	wall := time.Now()
	o := DefaultSimOptions()
	o.Day, o.PVKW, o.BatteryKWh, o.EVKWh, o.Seed = s.Day, s.PVKW, s.BatteryKWh, s.EVKWh, s.Seed
	o.Duration, o.Outages = s.Duration, outagesOf(s)
	pc := o.PlantConfig(0)
	pc.Start = pc.Start.Add(s.Start)
	pc.Battery.InitialSoC = units.Fraction(s.SoC)
	for _, e := range s.Events {
		if e.Kind == scenario.Excursion {
			pc.Grid.Excursions = append(pc.Grid.Excursions, hil.Excursion{From: e.At, To: e.Until,
				Voltage: units.PerUnit(e.Voltage), Frequency: units.Hertz(e.Frequency)})
		}
	}
	clk := clock.NewSim(pc.Start)
	step := ScenarioStep
	if s.Step > 0 {
		step = s.Step
	}
	if s.Curtailment == "frequency" {
		outer := tune
		tune = func(c *fractals.Config) {
			c.IslandCurtailment = fractals.CurtailByFrequency
			if outer != nil {
				outer(c)
			}
		}
	}
	plant, unit, err := newScenarioUnit(pc, step, ieee1547.Category(max(s.Category, 2)), clk, tune)
	if err != nil {
		return ScenarioResult{}, err
	}
	res := ScenarioResult{Name: s.Name}
	r := scenarioRun{fMin: math.Inf(1), fMax: math.Inf(-1), lastPCC: true, lastPhase: 255}
	for _, e := range s.Events {
		switch {
		case e.IsLoss():
			r.losses = append(r.losses, e.At)
		case e.Kind == scenario.GridReturn:
			r.returns = append(r.returns, e.At)
		}
	}
	steps := int(s.Duration / step)
	seenEvents := 0
	for n := 0; n < steps; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ScenarioResult{}, ctx.Err()
		}
		elapsed := time.Duration(n) * step
		applyFaults(plant, s, elapsed)
		_ = unit.Cycle(ctx) // simulated devices do not fail
		st := unit.Status()
		if len(st.Events) > 0 && st.Events[len(st.Events)-1] != lastOf(res.Events) {
			res.Events, seenEvents = appendNew(res.Events, st.Events, seenEvents)
		}
		r.observe(&res, st, plant, elapsed, s)
		plant.Advance(step)
		clk.Advance(step)
	}
	res.SimSeconds = s.Duration.Seconds()
	res.Energy = summarise(o, []unitRun{{counters: plant.Counters(), cfg: pc}}).Energy
	res.SoCLow, res.SoCFloor = float64(plant.Counters().SoCLow), float64(pc.Battery.SoCMin)
	res.Verdicts = r.verdicts(s, &res, plant)
	res.Pass = true
	for _, v := range res.Verdicts {
		res.Pass = res.Pass && v.Pass
	}
	res.WallSeconds = time.Since(wall).Seconds()
	return res, nil
}

func lastOf(ev []fractals.Event) fractals.Event {
	if len(ev) == 0 {
		return fractals.Event{}
	}
	return ev[len(ev)-1]
}

// appendNew adds the events of the unit's recent list not yet recorded (the list is bounded, so the
// new ones are found by comparing with the last recorded).
func appendNew(all, recent []fractals.Event, _ int) ([]fractals.Event, int) {
	last := lastOf(all)
	start := 0
	for i := len(recent) - 1; i >= 0; i-- {
		if recent[i] == last {
			start = i + 1
			break
		}
	}
	if len(all) > 5000 {
		return all, 0 // bounded: a report need not list a chattering relay forever
	}
	return append(all, recent[start:]...), 0
}

func outagesOf(s *scenario.Scenario) []hil.Outage {
	var out []hil.Outage
	for _, e := range s.Events {
		switch {
		case e.IsLoss():
			out = append(out, hil.Outage{From: e.At, To: s.Duration + time.Hour, LoadQuality: e.QualityFactor})
		case e.Kind == scenario.GridReturn:
			out[len(out)-1].To = e.At
		}
	}
	return out
}

// applyFaults sets the plant's device faults for the step at elapsed.
func applyFaults(p *hil.Plant, s *scenario.Scenario, elapsed time.Duration) {
	stuck := false
	for _, e := range s.Events {
		if e.Kind == scenario.PCCStuck && elapsed >= e.At && (e.Until == 0 || elapsed < e.Until) {
			stuck = true
		}
	}
	p.SetPCCStuck(stuck)
}

func (r *scenarioRun) observe(res *ScenarioResult, st Status, p *hil.Plant, elapsed time.Duration, s *scenario.Scenario) {
	ph := st.State.Island.Phase
	if ph != r.lastPhase {
		res.Phases = append(res.Phases, PhaseChange{AtSeconds: elapsed.Seconds(), Phase: ph.String(), Reason: st.State.Island.Reason})
		if ph == fractals.PhaseConnected && r.lastPhase != 255 {
			r.closedAt = append(r.closedAt, elapsed)
		}
		r.lastPhase = ph
	}
	if st.Desired.PCCClosed != r.lastPCC {
		r.pccOps++
		r.lastPCC = st.Desired.PCCClosed
		if !st.Desired.PCCClosed && len(r.openedAt) < len(r.losses) && elapsed >= r.losses[len(r.openedAt)] {
			r.openedAt = append(r.openedAt, elapsed)
		}
	}
	for k, on := range st.Desired.LoadOn {
		if elapsed > 0 && on != r.lastLoads[k] {
			r.loadOps++
		}
		r.lastLoads[k] = on
	}
	g := p.Grid()
	if n := len(r.ceasedAt); n < len(r.losses) && elapsed >= r.losses[n] && (!g.PCCClosed || !g.Present) {
		r.ceasedAt = append(r.ceasedAt, elapsed)
	}
	if !g.PCCClosed {
		r.fIslandMax = math.Max(r.fIslandMax, float64(g.Frequency))
	}
	if !nearEvent(elapsed, s) {
		r.fMin, r.fMax = math.Min(r.fMin, float64(g.Frequency)), math.Max(r.fMax, float64(g.Frequency))
	}
	b := p.Battery()
	c := p.Counters()
	_ = c
	ser := &res.Series
	ser.Hours = append(ser.Hours, elapsed.Hours())
	ser.PV = append(ser.PV, float64(p.PVOutput()))
	ser.Battery = append(ser.Battery, float64(b.Power))
	ser.Grid = append(ser.Grid, float64(g.Power))
	ser.Load = append(ser.Load, float64(p.Load(hil.Critical).Power+p.Load(hil.WiFi).Power+p.Load(hil.Storage).Power))
	ser.SoC = append(ser.SoC, float64(b.SoC))
	ser.Frequency = append(ser.Frequency, float64(g.Frequency))
	ser.Voltage = append(ser.Voltage, float64(g.Voltage))
	ser.Phase = append(ser.Phase, float64(ph))
	ser.Services = append(ser.Services, float64(st.Desired.ServiceStep))
}

// nearEvent is true within the 2 s after a grid event, the transient ride-through permits.
func nearEvent(elapsed time.Duration, s *scenario.Scenario) bool {
	for _, e := range s.Events {
		if elapsed >= e.At && elapsed < e.At+2*time.Second {
			return true
		}
	}
	return false
}

func (r *scenarioRun) verdicts(s *scenario.Scenario, res *ScenarioResult, p *hil.Plant) []Verdict {
	c := p.Counters()
	var out []Verdict
	for _, a := range s.Assertions {
		v := Verdict{Kind: a.Kind}
		switch a.Kind {
		case "detection_time":
			v.Want = "≤ " + a.Within.String()
			worst := time.Duration(0)
			v.Pass = len(r.openedAt) == len(r.losses)
			for i, at := range r.openedAt {
				worst = max(worst, at-r.losses[i])
			}
			v.Value, v.Measured = worst.Seconds(), fmt.Sprintf("%v (%d of %d losses detected)", worst, len(r.openedAt), len(r.losses))
			v.Pass = v.Pass && worst <= a.Within
		case "cessation_time":
			v.Want = "≤ " + a.Within.String()
			worst := time.Duration(0)
			for i, at := range r.ceasedAt {
				worst = max(worst, at-r.losses[i])
			}
			v.Value, v.Measured = worst.Seconds(), fmt.Sprintf("%v (%d of %d losses ceased)", worst, len(r.ceasedAt), len(r.losses))
			v.Pass = len(r.ceasedAt) == len(r.losses) && worst <= a.Within
		case "critical_unserved":
			v.Value = float64(c.Unserved[hil.Critical])
			v.Want, v.Measured = fmt.Sprintf("≤ %g Wh", *a.Max), fmt.Sprintf("%.1f Wh", v.Value)
			v.Pass = v.Value <= *a.Max
		case "soc":
			v.Value = float64(c.SoCLow)
			v.Want, v.Measured = fmt.Sprintf("≥ %g", *a.Min), fmt.Sprintf("%.3f", v.Value)
			v.Pass = v.Value >= *a.Min
		case "frequency":
			v.Value = r.fMin
			v.Want, v.Measured = fmt.Sprintf("%g..%g Hz", *a.Min, *a.Max), fmt.Sprintf("%.3f..%.3f Hz", r.fMin, r.fMax)
			v.Pass = r.fMin >= *a.Min && r.fMax <= *a.Max
		case "phases":
			got := make([]string, len(res.Phases))
			for i, ph := range res.Phases {
				got[i] = ph.Phase
			}
			v.Want, v.Measured = strings.Join(a.Sequence, " → "), strings.Join(got, " → ")
			v.Pass = slices.Equal(got, a.Sequence)
		case "reconnect_delay":
			shortest := math.Inf(1)
			for i, ret := range r.returns {
				for _, cl := range r.closedAt {
					if cl >= ret && (i+1 >= len(r.losses) || cl < r.losses[i+1]) {
						shortest = math.Min(shortest, (cl - ret).Seconds())
						break
					}
				}
			}
			v.Value = shortest
			v.Want, v.Measured = fmt.Sprintf("≥ %g s", *a.Min), fmt.Sprintf("%g s", shortest)
			v.Pass = len(r.returns) > 0 && !math.IsInf(shortest, 1) && shortest >= *a.Min
		case "pv_curtailed":
			v.Value = float64(c.PVCurtailed)
			v.Want, v.Measured = fmt.Sprintf("≥ %g Wh", *a.Min), fmt.Sprintf("%.0f Wh", v.Value)
			v.Pass = v.Value >= *a.Min
		case "frequency_rise":
			nominal := float64(p.Config().Grid.NominalFrequency)
			v.Value = math.Max(0, r.fIslandMax-nominal)
			v.Want, v.Measured = fmt.Sprintf("≥ %g Hz", *a.Min), fmt.Sprintf("%.3f Hz (highest %.3f Hz islanded)", v.Value, r.fIslandMax)
			v.Pass = v.Value >= *a.Min
		case "pcc_operations":
			v.Value = float64(r.pccOps)
			v.Want, v.Measured = fmt.Sprintf("≤ %g", *a.Max), fmt.Sprint(r.pccOps)
			v.Pass = v.Value <= *a.Max
		case "relay_chatter":
			v.Value = float64(r.loadOps) / s.Duration.Hours()
			v.Want, v.Measured = fmt.Sprintf("≤ %g per hour", *a.Max), fmt.Sprintf("%.2f per hour (%d changes)", v.Value, r.loadOps)
			v.Pass = v.Value <= *a.Max
		}
		out = append(out, v)
	}
	return out
}

// newScenarioUnit is a simulated unit on the scenario's step with its IEEE 1547 category's relay.
func newScenarioUnit(pc hil.Config, step time.Duration, cat ieee1547.Category, clk clock.Clock, tune func(*fractals.Config)) (*hil.Plant, *Unit, error) {
	plant, err := hil.New(pc)
	if err != nil {
		return nil, nil, err
	}
	unit, err := scenarioUnitFor(plant, pc, step, cat, clk, tune)
	return plant, unit, err
}

// scenarioUnitFor is the controller of a scenario's unit on plant (see newScenarioUnit).
func scenarioUnitFor(plant *hil.Plant, pc hil.Config, step time.Duration, cat ieee1547.Category, clk clock.Clock, tune func(*fractals.Config)) (*Unit, error) {
	cc := ControllerConfigFor(pc)
	cc.Cycle = step
	cc.StaleLimit = max(cc.StaleLimit, 2*step)
	cc.Protection = cc.Protecting()
	cc.Protection.Relay = ieee1547.DefaultSettingsAt(cat, float64(cc.NominalFrequency))
	cc.Protection.Tick = step
	if tune != nil {
		tune(&cc)
	}
	unit, err := NewUnit(cc, fractals.DefaultWriterConfig(), SimulatedDevices(plant), clk, nil)
	if err != nil {
		return nil, err
	}
	unit.EnableNightReserve(pc.PV, pc.Latitude)
	return unit, nil
}
