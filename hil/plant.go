package hil

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// GridConfig describes the utility connection at the point of common coupling.
type GridConfig struct {
	Available        bool        // false: the utility is down for the whole run
	MaxImport        units.Watts // contract/fuse limit
	MaxExport        units.Watts // export limit set by the network operator
	NominalVoltage   units.Volts
	NominalFrequency units.Hertz
	Outages          []Outage // windows in which the utility is down
	// Excursions are windows in which the utility is up but off its nominal voltage or frequency.
	Excursions []Excursion
}

// Outage is a window of elapsed time since the plant's start in which the utility is down.
type Outage struct {
	From, To time.Duration
	// LoadQuality, when positive, makes the outage an unintentional island (feederisland.go): the
	// utility's breaker upstream opens and leaves a parallel RLC load of this quality factor, matched
	// to the unit's export, on the section the unit still energises. Zero: the utility side goes dead
	// and the breaker status input shows it.
	LoadQuality float64
}

// DefaultGridConfig is a 230 V / 50 Hz connection with an 11 kW fuse and a 3 kW export limit.
func DefaultGridConfig() GridConfig {
	return GridConfig{Available: true, MaxImport: 11000, MaxExport: 3000, NominalVoltage: 230, NominalFrequency: 50}
}

// Config is the whole plant of one unit.
type Config struct {
	Start       time.Time // read as local solar time; its date gives the day of year
	Latitude    float64   // degrees, north positive
	PV          PVConfig
	Battery     BatteryConfig
	Loads       LoadsConfig
	EV          EVConfig
	Grid        GridConfig
	RevertAfter time.Duration // set-points fall back to safe values when not refreshed for this long
	Seed        uint64
	// MeasurementLag makes the devices show the available PV and load demands of the step just done,
	// as real meters do, instead of those of the coming step: the controller then always acts on
	// slightly old data and its lag shows in the results.
	MeasurementLag bool
}

// DefaultConfig is one MeshBox++ unit at 40° N on the summer solstice.
func DefaultConfig() Config {
	return Config{Start: time.Date(2026, 6, 21, 0, 0, 0, 0, time.UTC), Latitude: 40,
		PV: DefaultPVConfig(), Battery: DefaultBatteryConfig(), Loads: DefaultLoadsConfig(),
		EV: DefaultEVConfig(), Grid: DefaultGridConfig(), RevertAfter: time.Minute, Seed: 1, MeasurementLag: true}
}

// Validate reports the first configuration value outside its physical range.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("plant: "+format, args...))
		}
	}
	check(c.Latitude >= -66 && c.Latitude <= 66, "latitude %g out of range [-66, 66]", c.Latitude)
	check(c.PV.DCRating >= 0 && c.PV.DCRating <= 1e6, "pv dc rating %v out of range [0, 1 MW]", c.PV.DCRating)
	check(c.PV.DCACRatio >= 0.5 && c.PV.DCACRatio <= 2, "pv dc/ac ratio %g out of range [0.5, 2]", c.PV.DCACRatio)
	check(c.PV.SystemLosses >= 0 && c.PV.SystemLosses < 1, "pv system losses %g out of range [0, 1)", c.PV.SystemLosses)
	check(c.PV.InverterEff > 0.5 && c.PV.InverterEff <= 1, "pv inverter efficiency %g out of range (0.5, 1]", c.PV.InverterEff)
	b := c.Battery
	check(b.Capacity > 0 && b.Capacity <= 1e7, "battery capacity %v out of range (0, 10 MWh]", b.Capacity)
	check(b.MaxCharge >= 0 && b.MaxDischarge >= 0, "battery power limits must not be negative")
	check(b.ChargeEff > 0 && b.ChargeEff <= 1, "battery charge efficiency %g out of range (0, 1]", float64(b.ChargeEff))
	check(b.DischargeEff > 0 && b.DischargeEff <= 1, "battery discharge efficiency %g out of range (0, 1]", float64(b.DischargeEff))
	check(b.SoCMin >= 0 && b.SoCMin < b.SoCMax && b.SoCMax <= 1, "battery SoC limits [%g, %g] must satisfy 0 ≤ min < max ≤ 1", float64(b.SoCMin), float64(b.SoCMax))
	check(b.InitialSoC >= b.SoCMin && b.InitialSoC <= b.SoCMax, "battery initial SoC %g outside its limits [%g, %g]", float64(b.InitialSoC), float64(b.SoCMin), float64(b.SoCMax))
	check(c.Grid.MaxImport >= 0 && c.Grid.MaxExport >= 0, "grid limits must not be negative")
	check(c.Grid.NominalVoltage > 0 && c.Grid.NominalFrequency > 0, "grid nominal voltage and frequency must be positive")
	if c.EV.Enabled {
		check(c.EV.ArriveHour >= 0 && c.EV.ArriveHour < 24 && c.EV.DepartHour >= 0 && c.EV.DepartHour < 24 &&
			c.EV.ArriveHour != c.EV.DepartHour, "ev arrive/depart hours %g/%g must be distinct and in [0, 24)", c.EV.ArriveHour, c.EV.DepartHour)
		check(c.EV.Needed >= 0 && c.EV.MaxPower > 0, "ev energy must not be negative and its power must be positive")
	}
	check(c.RevertAfter > 0, "revert timeout must be positive")
	return errors.Join(errs...)
}

// Counters are the plant's true energy flows on the AC bus since the start.
type Counters struct {
	PV, PVCurtailed        units.WattHours
	Load                   units.WattHours // everything served, EV included
	Served, Unserved       [NumLoads]units.WattHours
	EV                     units.WattHours
	BatteryCharge          units.WattHours
	BatteryDischarge       units.WattHours
	GridImport, GridExport units.WattHours
	StoredStart, StoredEnd units.WattHours
	SoCLow, SoCHigh        units.Fraction // extremes reached
	IslandedSeconds        float64
	MaxImbalance           units.Watts // largest |sources − sinks| of any step (should be ~0)
	Steps                  int
}

// BatteryState is what the battery inverter and its BMS show.
type BatteryState struct {
	Power          units.Watts // AC, positive charging, last step
	SoC            units.Fraction
	Stored         units.WattHours
	ChargeLimit    units.Watts // for the next step
	DischargeLimit units.Watts
	GridForming    bool
}

// GridState is what the PCC meter shows.
type GridState struct {
	Power     units.Watts // positive importing, last step
	Voltage   units.Volts
	Frequency units.Hertz
	Present   bool // utility side energised
	PCCClosed bool
}

// LoadState is one switched load.
type LoadState struct {
	Power, Demand units.Watts
	On            bool
}

// EVState is the charger's view of the car.
type EVState struct {
	Connected         bool
	Power, MaxPower   units.Watts
	Delivered, Needed units.WattHours
	Deadline          time.Time
}

// Plant is the simulated physical plant of one unit. It moves only when Advance is called; set-points
// take effect from the next Advance. It is safe for concurrent use.
type Plant struct {
	mu       sync.Mutex
	cfg      Config
	elapsed  time.Duration
	battery  *battery
	clouds   *clouds
	loads    *loadModel
	counters Counters

	// inputs at the current instant, and what the meters show of them (one step old with MeasurementLag)
	pvAvail      units.Watts
	demand       [NumLoads]units.Watts
	gridUp       bool
	shownPVAvail units.Watts
	shownDemand  [NumLoads]units.Watts

	// set-points and when they were last written
	pvLimit, batterySet, evSet       units.Watts
	pvWritten, batWritten, evWritten time.Duration
	loadOn                           [NumLoads]bool
	pccClosed                        bool

	// flows of the last step
	pvOut, batteryPower, gridPower, evPower units.Watts
	served                                  [NumLoads]units.Watts
	island                                  bool

	ev       evSession
	sessions []EVSession

	// the utility side of the PCC and the grid-forming inverter's commands (utility.go)
	utilityPhase   float64
	formingCommand bool
	formingFreq    units.Hertz
	reactive       units.VoltAmperesReactive // the PV inverter's reactive power set-point (volt-var)
	formingVolt    units.Volts
	pccStuck       bool
	frequencyShift bool         // the PV inverter's Sandia frequency shift (feederisland.go)
	feeder         feederIsland // the unintentional island, while the unit energises it
	// blackout and black start (blackstart.go)
	formingTripped, ceasedSinceTrip, ceased bool
	blackStarts                             int
	shift                                   units.Hertz // curtailment by frequency (curtail.go)
	tie                                     tie         // the community feeder's hold on the plant (communitytie.go)

	services ServiceState // what the unit's services were told (services.go)
}

type evSession struct {
	connected         bool
	needed, delivered units.WattHours
	deadline          time.Duration
}

// New builds a plant at its start time.
func New(cfg Config) (*Plant, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Plant{cfg: cfg, battery: newBattery(cfg.Battery), clouds: newClouds(cfg.Seed),
		loads: newLoadModel(cfg.Loads, cfg.Seed), pvLimit: cfg.PV.ACRating(), pccClosed: true}
	for k := range p.loadOn {
		p.loadOn[k] = true
	}
	p.counters.StoredStart = p.battery.stored
	p.counters.SoCLow, p.counters.SoCHigh = p.battery.soc(), p.battery.soc()
	p.updateInputs()
	p.shownPVAvail, p.shownDemand = p.pvAvail, p.demand
	return p, nil
}

// Config returns the plant's configuration.
func (p *Plant) Config() Config { return p.cfg }

// Now is the plant's time.
func (p *Plant) Now() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg.Start.Add(p.elapsed)
}

// local returns the local time of the plant at elapsed.
func (p *Plant) local(elapsed time.Duration) time.Time { return p.cfg.Start.Add(elapsed) }

// updateInputs evaluates weather, loads, grid and the EV at the current instant.
func (p *Plant) updateInputs() {
	now := p.local(p.elapsed)
	sod := secondOfDay(now)
	doy := dayOfYear(now)
	es := p.elapsed.Seconds()
	sun := SunPosition(p.cfg.Latitude, doy, sod)
	poa := p.cfg.PV.PlaneOfArray(sun, ClearSkyIrradiance(sun))
	poa = units.WattsPerSquareMetre(float64(poa) * p.clouds.index(es))
	cell := CellTemperature(poa, AmbientTemperature(p.cfg.Latitude, doy, sod), 1)
	p.pvAvail = p.cfg.PV.ACPower(p.cfg.PV.DCPower(poa, cell))
	p.loads.demand(&p.demand, es, sod/3600)
	p.degradeServices(&p.demand)
	p.gridUp = p.gridAvailable(p.elapsed)
	p.updateEV(sod / 3600)
}

func (p *Plant) gridAvailable(at time.Duration) bool {
	if !p.cfg.Grid.Available {
		return false
	}
	for _, o := range p.cfg.Grid.Outages {
		if at >= o.From && at < o.To {
			return false
		}
	}
	return true
}

// updateEV plugs the car in at its arrival hour and unplugs it at its departure, closing the session.
func (p *Plant) updateEV(hour float64) {
	ev := p.cfg.EV
	if !ev.Enabled {
		return
	}
	present := inWindow(hour, ev.ArriveHour, ev.DepartHour)
	switch {
	case present && !p.ev.connected:
		untilDepart := math.Mod(ev.DepartHour-hour+24, 24) * 3600
		p.ev = evSession{connected: true, needed: ev.Needed,
			deadline: p.elapsed + time.Duration(untilDepart*float64(time.Second))}
	case !present && p.ev.connected:
		p.sessions = append(p.sessions, EVSession{Needed: p.ev.needed, Delivered: p.ev.delivered,
			DeadlineElapsed: p.ev.deadline.Seconds(), Met: p.ev.delivered >= p.ev.needed-1e-6})
		p.ev = evSession{}
	}
}

// inWindow reports whether hour lies in [from, to), wrapping over midnight.
func inWindow(hour, from, to float64) bool {
	if from < to {
		return hour >= from && hour < to
	}
	return hour >= from || hour < to
}

// Advance runs the physics for dt with the current set-points and inputs held constant, then moves
// the plant's time and inputs to the end of the step.
func (p *Plant) Advance(dt time.Duration) {
	if dt <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applyRevertTimers()
	p.balance(dt)
	p.advanceFeederIsland(dt)
	p.account(dt)
	p.elapsed += dt
	lastPV, lastDemand, wasUp := p.pvAvail, p.demand, p.gridUp
	p.updateInputs()
	p.advanceUtility(dt, wasUp)
	p.startFeederIsland(wasUp)
	if p.cfg.MeasurementLag {
		p.shownPVAvail, p.shownDemand = lastPV, lastDemand
	} else {
		p.shownPVAvail, p.shownDemand = p.pvAvail, p.demand
	}
}

// applyRevertTimers returns set-points that the controller stopped refreshing to safe values, as a
// real inverter does when its revert timer expires: battery idle, EV paused, PV unlimited.
func (p *Plant) applyRevertTimers() {
	after := p.cfg.RevertAfter
	if p.elapsed-p.batWritten > after {
		p.batterySet = 0
	}
	if p.elapsed-p.evWritten > after {
		p.evSet = 0
	}
	if p.elapsed-p.pvWritten > after {
		p.pvLimit = p.cfg.PV.ACRating()
	}
}

// balance sets the flows of one step. Connected to the grid, the battery follows its set-point and the
// grid takes the rest within its limits; islanded, the battery forms the grid and takes the rest. What
// neither can take is curtailed (surplus PV) or shed from the lowest-priority load up (deficit), as the
// hybrid inverter's own protection would do.
func (p *Plant) balance(dt time.Duration) {
	p.pvOut = units.Watts(math.Min(float64(p.pvAvail), math.Max(0, float64(p.pvLimit))))
	for k := range p.served {
		p.served[k] = 0
		if p.loadOn[k] {
			p.served[k] = p.demand[k]
		}
	}
	p.evPower = 0
	if p.ev.connected {
		remaining := (p.ev.needed - p.ev.delivered).Per(dt)
		p.evPower = p.evSet.Clamp(0, units.Watts(math.Min(float64(p.cfg.EV.MaxPower), math.Max(0, float64(remaining)))))
	}
	if p.onFeederIsland() {
		p.island = false
		if p.balanceFeederIsland(dt); p.feeder.active {
			return
		}
	}
	chLim, disLim := p.battery.chargeLimit(dt), p.battery.dischargeLimit(dt)
	p.island = !p.gridUp || !p.pccClosed
	if p.island && p.dark() {
		p.balanceDark()
		return
	}
	if p.ceased {
		p.pvOut = 0 // cease to energize: tied to the utility, the loads take it all from the grid
	}
	if p.island {
		net := p.totalLoad() - p.pvOut // the battery supplies net (> 0) or absorbs −net
		if net > disLim {
			p.shed(net - disLim)
			net = p.totalLoad() - p.pvOut
		}
		p.shift = 0
		if -net > chLim {
			p.pvOut -= -net - chLim
			p.shift = p.curtailShift(-net - chLim)
			net = -chLim
		}
		p.batteryPower, p.gridPower = -net, 0
		return
	}
	p.balanceConnected(chLim, disLim)
}

// balanceConnected is balance tied to the utility (or to an unintentional island, which the unit's
// inverters cannot tell from it): the battery follows its set-point and the PCC takes the rest within
// the connection's limits.
func (p *Plant) balanceConnected(chLim, disLim units.Watts) {
	p.shift = 0
	p.batteryPower = p.droopSetpoint().Clamp(-disLim, chLim)
	if p.ceased {
		p.batteryPower = 0
	}
	grid := p.totalLoad() + p.batteryPower - p.pvOut
	if short := grid - p.cfg.Grid.MaxImport; short > 0 {
		more := units.Watts(math.Min(float64(short), float64(p.batteryPower+disLim)))
		p.batteryPower -= more
		p.shed(short - more)
	}
	if surplus := -p.cfg.Grid.MaxExport - grid; surplus > 0 {
		more := units.Watts(math.Min(float64(surplus), float64(chLim-p.batteryPower)))
		p.batteryPower += more
		p.pvOut -= units.Watts(math.Min(float64(surplus-more), float64(p.pvOut)))
	}
	p.gridPower = p.totalLoad() + p.batteryPower - p.pvOut
}

func (p *Plant) totalLoad() units.Watts {
	t := p.evPower
	for _, s := range p.served {
		t += s
	}
	return t
}

// shed drops deficit watts from the lowest-priority consumer up: the EV, then storage, Wi-Fi, critical.
func (p *Plant) shed(deficit units.Watts) {
	cut := units.Watts(math.Min(float64(deficit), float64(p.evPower)))
	p.evPower -= cut
	deficit -= cut
	for k := NumLoads - 1; k >= 0 && deficit > 0; k-- {
		cut := units.Watts(math.Min(float64(deficit), float64(p.served[k])))
		p.served[k] -= cut
		deficit -= cut
	}
}

// account integrates the step's flows into the counters and the battery.
func (p *Plant) account(dt time.Duration) {
	c := &p.counters
	c.Steps++
	c.PV += p.pvOut.Over(dt)
	c.PVCurtailed += (p.pvAvail - p.pvOut).Over(dt)
	for k := range p.served {
		c.Served[k] += p.served[k].Over(dt)
		c.Unserved[k] += (p.demand[k] - p.served[k]).Over(dt)
	}
	c.EV += p.evPower.Over(dt)
	c.Load += p.totalLoad().Over(dt)
	charged, discharged := p.battery.apply(p.batteryPower, dt)
	c.BatteryCharge += charged
	c.BatteryDischarge += discharged
	if p.gridPower > 0 {
		c.GridImport += p.gridPower.Over(dt)
	} else {
		c.GridExport += (-p.gridPower).Over(dt)
	}
	if p.island {
		c.IslandedSeconds += dt.Seconds()
	}
	imbalance := (p.pvOut + p.gridPower - p.batteryPower - p.totalLoad()).Abs()
	if imbalance > c.MaxImbalance {
		c.MaxImbalance = imbalance
	}
	p.ev.delivered += p.evPower.Over(dt)
	soc := p.battery.soc()
	c.SoCLow = units.Fraction(math.Min(float64(c.SoCLow), float64(soc)))
	c.SoCHigh = units.Fraction(math.Max(float64(c.SoCHigh), float64(soc)))
	c.StoredEnd = p.battery.stored
}
