package firmware

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

// SimOptions choose what the simulator runs.
type SimOptions struct {
	Units      int
	Duration   time.Duration
	Step       time.Duration // plant step and control cycle
	Seed       uint64
	Latitude   float64
	Day        int // day of year, 1..366
	PVKW       float64
	BatteryKWh float64
	EVKWh      float64 // energy each EV session asks for; 0: no EV
	// EVArriveHour and EVDepartHour are when the car plugs in and leaves (hours of the day); it is
	// plugged in at the start when the start falls between them.
	EVArriveHour, EVDepartHour float64
	Grid                       bool
	Outages                    []hil.Outage // utility outages within the run (grid on only)
}

// DefaultSimOptions is one unit for a summer day at 40° N, grid connected.
func DefaultSimOptions() SimOptions {
	return SimOptions{Units: 1, Duration: 24 * time.Hour, Step: time.Second, Seed: 7, Latitude: 40, Day: 172,
		PVKW: 5, BatteryKWh: 10, EVKWh: 10, EVArriveHour: 18, EVDepartHour: 7, Grid: true}
}

// Validate names the first option out of range and the range it accepts.
func (o SimOptions) Validate() error {
	switch {
	case o.Units < 1 || o.Units > 10000:
		return fmt.Errorf("--units %d out of range [1, 10000]", o.Units)
	case o.Step < 100*time.Millisecond || o.Step > 10*time.Second:
		return fmt.Errorf("--step %v out of range [100ms, 10s]", o.Step)
	case o.Duration < o.Step || o.Duration > 366*24*time.Hour:
		return fmt.Errorf("--duration %v out of range [step, 8784h]", o.Duration)
	// Ranges are written as "not inside" so that NaN is refused too.
	case !(o.Latitude >= -66 && o.Latitude <= 66):
		return fmt.Errorf("--latitude %g out of range [-66, 66]", o.Latitude)
	case o.Day < 1 || o.Day > 366:
		return fmt.Errorf("--day %d out of range [1, 366]", o.Day)
	case !(o.PVKW >= 0 && o.PVKW <= 1000):
		return fmt.Errorf("--pv-kw %g out of range [0, 1000]", o.PVKW)
	case !(o.BatteryKWh > 0 && o.BatteryKWh <= 10000):
		return fmt.Errorf("--battery-kwh %g out of range (0, 10000]", o.BatteryKWh)
	case !(o.EVKWh >= 0 && o.EVKWh <= 200):
		return fmt.Errorf("--ev-kwh %g out of range [0, 200]", o.EVKWh)
	case !(o.EVArriveHour >= 0 && o.EVArriveHour < 24 && o.EVDepartHour >= 0 && o.EVDepartHour < 24) || o.EVArriveHour == o.EVDepartHour:
		return fmt.Errorf("--ev-arrive %g / --ev-depart %g out of range [0, 24) or equal", o.EVArriveHour, o.EVDepartHour)
	}
	for _, out := range o.Outages {
		if out.From < 0 || out.To <= out.From {
			return fmt.Errorf("outage %v..%v is not a window of positive length", out.From, out.To)
		}
	}
	return nil
}

// PlantConfig returns the plant of unit i (0-based) of a run: the default plant scaled to the options,
// with its own seed.
func (o SimOptions) PlantConfig(i int) hil.Config {
	c := hil.DefaultConfig()
	// A leap year, so that --day 366 is a real day and not the first of the next year.
	c.Start = time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, o.Day-1)
	c.Latitude = o.Latitude
	if o.Latitude < 0 {
		c.PV.AzimuthDeg = 0 // south of the equator the array faces north
	}
	c.PV.DCRating = units.Watts(o.PVKW * 1000)
	scale := o.BatteryKWh / (float64(c.Battery.Capacity) / 1000)
	c.Battery.Capacity = units.WattHours(o.BatteryKWh * 1000)
	// Power limits scale with capacity (a 0.5 C battery), at least 1 kW so a small battery still works.
	c.Battery.MaxCharge = units.Watts(max(1000, float64(c.Battery.MaxCharge)*scale))
	c.Battery.MaxDischarge = units.Watts(max(1000, float64(c.Battery.MaxDischarge)*scale))
	c.EV.Needed = units.WattHours(o.EVKWh * 1000)
	c.EV.Enabled = o.EVKWh > 0
	c.EV.ArriveHour, c.EV.DepartHour = o.EVArriveHour, o.EVDepartHour
	c.Grid.Available = o.Grid
	c.Grid.Outages = o.Outages
	c.Seed = o.Seed*1_000_003 + uint64(i)
	return c
}

// EnergyResult is energy on the AC bus in Wh.
type EnergyResult struct {
	PV               float64 `json:"pv"`
	PVCurtailed      float64 `json:"pv_curtailed"`
	Load             float64 `json:"load"`
	CriticalLoad     float64 `json:"critical_load"`
	CriticalUnserved float64 `json:"critical_unserved"`
	ServicesLoad     float64 `json:"services_load"`
	ServicesUnserved float64 `json:"services_unserved"`
	EV               float64 `json:"ev"`
	BatteryCharge    float64 `json:"battery_charge"`
	BatteryDischarge float64 `json:"battery_discharge"`
	GridImport       float64 `json:"grid_import"`
	GridExport       float64 `json:"grid_export"`
}

// BatteryResult describes the batteries over the run (summed stored energy, extreme SoC of any unit).
type BatteryResult struct {
	StoredStart  float64 `json:"stored_start_wh"`
	StoredEnd    float64 `json:"stored_end_wh"`
	ChargeEff    float64 `json:"charge_efficiency"`
	DischargeEff float64 `json:"discharge_efficiency"`
	SoCMin       float64 `json:"soc_min"`     // lowest SoC reached
	SoCMax       float64 `json:"soc_max"`     // highest SoC reached
	SoCFloor     float64 `json:"soc_floor"`   // the BMS's lower limit
	SoCCeiling   float64 `json:"soc_ceiling"` // the BMS's upper limit
	SoCReserve   float64 `json:"soc_reserve"` // kept for outages
}

// EVResult covers the EV sessions whose deadline fell inside the run.
type EVResult struct {
	Sessions    int     `json:"sessions"`
	Needed      float64 `json:"energy_needed_wh"`
	Delivered   float64 `json:"energy_delivered_wh"`
	DeadlineMet *bool   `json:"deadline_met"` // null when no session ended in the run
	Missed      int     `json:"sessions_missed"`
}

// SimResult is the outcome of a run.
type SimResult struct {
	Units         int           `json:"units"`
	SimSeconds    float64       `json:"sim_seconds"`
	WallSeconds   float64       `json:"wall_seconds"`
	Energy        EnergyResult  `json:"energy_wh"`
	Battery       BatteryResult `json:"battery"`
	EV            EVResult      `json:"ev"`
	IslandedHours float64       `json:"islanded_hours"`
	MaxImbalanceW float64       `json:"max_imbalance_w"`
	Cycles        int           `json:"cycles"`
}

// Simulate runs the units in simulated time as fast as the machine allows, in parallel, and sums their
// results in unit order so the outcome does not depend on scheduling.
func Simulate(ctx context.Context, o SimOptions) (SimResult, error) {
	if err := o.Validate(); err != nil {
		return SimResult{}, err
	}
	start := time.Now()
	results := make([]unitRun, o.Units)
	errs := make([]error, o.Units)
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(o.Units, runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i], errs[i] = runUnit(ctx, o, i, nil)
			}
		}()
	}
	for i := 0; i < o.Units; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return SimResult{}, fmt.Errorf("unit %d: %w", i, err)
		}
	}
	r := summarise(o, results)
	r.WallSeconds = time.Since(start).Seconds()
	return r, nil
}

// unitRun is what one unit's run leaves behind.
type unitRun struct {
	counters hil.Counters
	sessions []hil.EVSession
	cfg      hil.Config
	cycles   int
}

// newSimulatedUnit builds a plant and the unit that controls it through the simulated devices, with
// the controller configured from the plant's nameplates and cycling every step. The simulator and
// the no-configuration daemon both run exactly this.
func newSimulatedUnit(pc hil.Config, step time.Duration, clk clock.Clock, log *slog.Logger) (*hil.Plant, *Unit, error) {
	plant, err := hil.New(pc)
	if err != nil {
		return nil, nil, err
	}
	cc := ControllerConfigFor(pc)
	cc.Cycle = step
	cc.StaleLimit = max(cc.StaleLimit, 2*step)
	unit, err := NewUnit(cc, fractals.DefaultWriterConfig(), SimulatedDevices(plant), clk, log)
	if err != nil {
		return nil, nil, err
	}
	unit.EnableNightReserve(pc.PV, pc.Latitude)
	return plant, unit, nil
}

// runUnit runs one unit: each step, a control cycle, then the plant and the clock move on. observe, when
// not nil, sees the plant before and after each step (tests check per-step invariants with it).
func runUnit(ctx context.Context, o SimOptions, i int, observe func(before hil.Counters, p *hil.Plant)) (unitRun, error) {
	pc := o.PlantConfig(i)
	clk := clock.NewSim(pc.Start)
	plant, unit, err := newSimulatedUnit(pc, o.Step, clk, nil)
	if err != nil {
		return unitRun{}, err
	}
	steps := int(o.Duration / o.Step)
	for n := 0; n < steps; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return unitRun{}, ctx.Err()
		}
		if err := unit.Cycle(ctx); err != nil {
			return unitRun{}, err // simulated devices do not fail: an error here is a bug
		}
		var before hil.Counters
		if observe != nil {
			before = plant.Counters()
		}
		plant.Advance(o.Step)
		clk.Advance(o.Step)
		if observe != nil {
			observe(before, plant)
		}
	}
	return unitRun{counters: plant.Counters(), sessions: plant.Sessions(), cfg: pc, cycles: steps}, nil
}

func summarise(o SimOptions, runs []unitRun) SimResult {
	steps := int(o.Duration / o.Step)
	r := SimResult{Units: o.Units, SimSeconds: (time.Duration(steps) * o.Step).Seconds()}
	met := true
	r.Battery.SoCMin, r.Battery.SoCMax = 1, 0
	for _, u := range runs {
		c := u.counters
		e := &r.Energy
		e.PV += float64(c.PV)
		e.PVCurtailed += float64(c.PVCurtailed)
		e.Load += float64(c.Load)
		e.CriticalLoad += float64(c.Served[hil.Critical])
		e.CriticalUnserved += float64(c.Unserved[hil.Critical])
		e.ServicesLoad += float64(c.Served[hil.WiFi] + c.Served[hil.Storage])
		e.ServicesUnserved += float64(c.Unserved[hil.WiFi] + c.Unserved[hil.Storage])
		e.EV += float64(c.EV)
		e.BatteryCharge += float64(c.BatteryCharge)
		e.BatteryDischarge += float64(c.BatteryDischarge)
		e.GridImport += float64(c.GridImport)
		e.GridExport += float64(c.GridExport)
		b := &r.Battery
		b.StoredStart += float64(c.StoredStart)
		b.StoredEnd += float64(c.StoredEnd)
		b.ChargeEff, b.DischargeEff = float64(u.cfg.Battery.ChargeEff), float64(u.cfg.Battery.DischargeEff)
		b.SoCMin = min(b.SoCMin, float64(c.SoCLow))
		b.SoCMax = max(b.SoCMax, float64(c.SoCHigh))
		b.SoCFloor, b.SoCCeiling = float64(u.cfg.Battery.SoCMin), float64(u.cfg.Battery.SoCMax)
		b.SoCReserve = float64(ControllerConfigFor(u.cfg).Reserve)
		r.IslandedHours += c.IslandedSeconds / 3600
		r.MaxImbalanceW = max(r.MaxImbalanceW, float64(c.MaxImbalance))
		r.Cycles += u.cycles
		for _, s := range u.sessions {
			r.EV.Sessions++
			r.EV.Needed += float64(s.Needed)
			r.EV.Delivered += float64(s.Delivered)
			if !s.Met {
				r.EV.Missed++
				met = false
			}
		}
	}
	if r.EV.Sessions > 0 {
		r.EV.DeadlineMet = &met
	}
	return r
}
