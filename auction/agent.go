package auction

import (
	"fmt"
	"math"

	"github.com/fractals-energy/fractals/internal/units"
)

// Kind names what a prosumer agent is.
type Kind string

// The agents a service-level agreement can describe.
const (
	KindLoad         Kind = "load"          // serves 0..demand_w[t], worth value_per_kwh
	KindFlexibleLoad Kind = "flexible_load" // up to energy_wh before the deadline, at most max_w
	KindBattery      Kind = "battery"       // stores energy with losses and wear
	KindPV           Kind = "pv"            // curtailable generation at a marginal cost
	KindGrid         Kind = "grid"          // the utility connection; absent on an island
)

// Agent is one prosumer as its service-level agreement describes it. Powers are in W, energies in Wh,
// prices per kWh; which fields matter depends on Kind.
type Agent struct {
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`

	DemandW     []units.Watts     `json:"demand_w,omitempty"`
	ValuePerKWh units.PricePerKWh `json:"value_per_kwh,omitempty"`

	EnergyWh units.WattHours `json:"energy_wh,omitempty"`
	MaxW     units.Watts     `json:"max_w,omitempty"`
	Deadline int             `json:"deadline,omitempty"`

	CapacityWh          units.WattHours   `json:"capacity_wh,omitempty"`
	InitialWh           units.WattHours   `json:"initial_wh,omitempty"`
	MaxChargeW          units.Watts       `json:"max_charge_w,omitempty"`
	MaxDischargeW       units.Watts       `json:"max_discharge_w,omitempty"`
	ChargeEfficiency    units.Fraction    `json:"charge_efficiency,omitempty"`
	DischargeEfficiency units.Fraction    `json:"discharge_efficiency,omitempty"`
	CostPerKWh          units.PricePerKWh `json:"cost_per_kwh,omitempty"`

	ForecastW []units.Watts `json:"forecast_w,omitempty"`

	ImportPrice []units.PricePerKWh `json:"import_price,omitempty"`
	ExportPrice []units.PricePerKWh `json:"export_price,omitempty"`
	MaxImportW  units.Watts         `json:"max_import_w,omitempty"`
	MaxExportW  units.Watts         `json:"max_export_w,omitempty"`
}

// Problem is a multi-period market: every period must balance, every agent keeps its own constraints, and
// the total benefit minus the total cost is maximised.
type Problem struct {
	Periods     int     `json:"periods"`
	PeriodHours float64 `json:"period_hours"`
	Agents      []Agent `json:"agents"`
}

// DefaultPeriods is one day of hourly periods.
const DefaultPeriods = 24

// MaxPeriods bounds the horizon (a year of hours).
const MaxPeriods = 8760

// withDefaults fills the horizon defaults.
func (p Problem) withDefaults() Problem {
	if p.Periods == 0 {
		p.Periods = DefaultPeriods
	}
	if p.PeriodHours == 0 {
		p.PeriodHours = 1
	}
	return p
}

// Validate says which field of which agent is wrong. A valid problem is always feasible (everything idle
// balances) and bounded (every variable has finite limits), so the solvers never meet an infeasible or
// unbounded instance: those are refused here, by name.
func (p Problem) Validate() error {
	if p.Periods < 1 || p.Periods > MaxPeriods {
		return fmt.Errorf("periods %d, want 1..%d", p.Periods, MaxPeriods)
	}
	if !(p.PeriodHours >= MinPeriodHours) || p.PeriodHours > 24 {
		return fmt.Errorf("period_hours %v, want 1/60 (one minute)..24", p.PeriodHours)
	}
	if len(p.Agents) == 0 {
		return fmt.Errorf("agents: none, want at least one")
	}
	firstUse := make(map[string]int, len(p.Agents))
	for i, a := range p.Agents {
		if a.ID == "" {
			return fmt.Errorf("agents[%d]: id empty", i)
		}
		if first, ok := firstUse[a.ID]; ok {
			return fmt.Errorf("agents[%d] (id %q): id used twice, already by agents[%d]", i, a.ID, first)
		}
		firstUse[a.ID] = i
		if err := a.validate(p.Periods); err != nil {
			return fmt.Errorf("agents[%d] (id %q): %w", i, a.ID, err)
		}
	}
	return nil
}

// maxPower bounds powers (10 GW) and energies so that sums stay far from overflow.
const maxPower = 1e10

func (a Agent) validate(periods int) error {
	switch a.Kind {
	case KindLoad:
		if err := series("demand_w", len(a.DemandW), periods, func(t int) float64 { return float64(a.DemandW[t]) }, 0, maxPower); err != nil {
			return err
		}
		return price("value_per_kwh", a.ValuePerKWh)
	case KindFlexibleLoad:
		if err := inRange("energy_wh", float64(a.EnergyWh), 0, maxPower); err != nil {
			return err
		}
		if err := inRange("max_w", float64(a.MaxW), 0, maxPower); err != nil {
			return err
		}
		if a.Deadline < 0 || a.Deadline > periods {
			return fmt.Errorf("deadline %d, want 0..%d", a.Deadline, periods)
		}
		return price("value_per_kwh", a.ValuePerKWh)
	case KindBattery:
		checks := []struct {
			name   string
			v, max float64
		}{
			{"capacity_wh", float64(a.CapacityWh), maxPower},
			{"initial_wh", float64(a.InitialWh), float64(a.CapacityWh)},
			{"max_charge_w", float64(a.MaxChargeW), maxPower},
			{"max_discharge_w", float64(a.MaxDischargeW), maxPower},
		}
		for _, c := range checks {
			if err := inRange(c.name, c.v, 0, c.max); err != nil {
				return err
			}
		}
		for _, e := range []struct {
			name string
			v    units.Fraction
		}{{"charge_efficiency", a.ChargeEfficiency}, {"discharge_efficiency", a.DischargeEfficiency}} {
			if !(e.v > 0 && e.v <= 1) {
				return fmt.Errorf("%s %v, want (0, 1]", e.name, float64(e.v))
			}
		}
		if err := price("cost_per_kwh", a.CostPerKWh); err != nil {
			return err
		}
		if a.CostPerKWh < 0 {
			return fmt.Errorf("cost_per_kwh %v, want ≥ 0 (wear is a cost)", float64(a.CostPerKWh))
		}
		return nil
	case KindPV:
		if err := series("forecast_w", len(a.ForecastW), periods, func(t int) float64 { return float64(a.ForecastW[t]) }, 0, maxPower); err != nil {
			return err
		}
		return price("cost_per_kwh", a.CostPerKWh)
	case KindGrid:
		if err := series("import_price", len(a.ImportPrice), periods, func(t int) float64 { return float64(a.ImportPrice[t]) }, -maxPrice, maxPrice); err != nil {
			return err
		}
		if err := series("export_price", len(a.ExportPrice), periods, func(t int) float64 { return float64(a.ExportPrice[t]) }, -maxPrice, maxPrice); err != nil {
			return err
		}
		for t := range periods {
			if a.ExportPrice[t] > a.ImportPrice[t] {
				return fmt.Errorf("export_price[%d] %v above import_price[%d] %v, want export ≤ import", t, float64(a.ExportPrice[t]), t, float64(a.ImportPrice[t]))
			}
		}
		if err := inRange("max_import_w", float64(a.MaxImportW), 0, maxPower); err != nil {
			return err
		}
		return inRange("max_export_w", float64(a.MaxExportW), 0, maxPower)
	case "":
		return fmt.Errorf("kind missing, want load, flexible_load, battery, pv or grid")
	}
	return fmt.Errorf("kind %q, want load, flexible_load, battery, pv or grid", a.Kind)
}

// maxPrice bounds prices per kWh (the default price cap and then some).
const maxPrice = 1e6

func inRange(name string, v, lo, hi float64) error {
	if math.IsNaN(v) || v < lo || v > hi {
		return fmt.Errorf("%s %v, want %g..%g", name, v, lo, hi)
	}
	return nil
}

func price(name string, v units.PricePerKWh) error {
	return inRange(name, float64(v), -maxPrice, maxPrice)
}

func series(name string, n, periods int, at func(int) float64, lo, hi float64) error {
	if n != periods {
		return fmt.Errorf("%s has %d values, want %d (one per period)", name, n, periods)
	}
	for t := range n {
		if err := inRange(fmt.Sprintf("%s[%d]", name, t), at(t), lo, hi); err != nil {
			return err
		}
	}
	return nil
}
