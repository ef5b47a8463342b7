package config

import (
	"time"

	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/units"
)

// Market is the `market:` section: how often the unit trades, over what horizon and by which method,
// what the grid charges and pays, what the unit's loads are worth and what its battery and PV cost.
// Every field is optional; a field left out keeps fractals.DefaultMarketConfig.
type Market struct {
	Interval     time.Duration `yaml:"interval"` // 5m..60m, default 15m
	Horizon      time.Duration `yaml:"horizon"`  // receding horizon, default 24h
	Method       string        `yaml:"method"`   // consensus (default), distributed or fractal
	ImportTariff []TariffBand  `yaml:"import_tariff"`
	ExportPrice  *float64      `yaml:"export_price"` // per kWh
	Values       *Values       `yaml:"values"`
	Battery      *BatteryCost  `yaml:"battery"`
	PV           *PVCost       `yaml:"pv"`
	// FeederBus is the unit's bus on the community feeder's MATPOWER case (1-based bus number; 0: unknown).
	FeederBus int `yaml:"feeder_bus"`
}

// TariffBand is one time-of-use band of the import tariff, from its hour until the next band's.
type TariffBand struct {
	FromHour int     `yaml:"from_hour"`
	Price    float64 `yaml:"price"` // per kWh
}

// Values are what the unit's loads are worth to their owner, per kWh.
type Values struct {
	Critical       *float64 `yaml:"critical"`        // value of lost load of the critical circuit
	Essential      *float64 `yaml:"essential"`       // a service's essential tier
	Degradable     *float64 `yaml:"degradable"`      // a service's degradable tier
	EssentialShare *float64 `yaml:"essential_share"` // 0..1 of a service's demand that is essential
	EV             *float64 `yaml:"ev"`
}

// BatteryCost gives the battery's wear cost: price / (cycle life × depth of discharge × capacity).
type BatteryCost struct {
	Price            *float64 `yaml:"price"`
	CycleLife        *float64 `yaml:"cycle_life"`
	DepthOfDischarge *float64 `yaml:"depth_of_discharge"`
}

// PVCost gives the array's offer price, its LCOE: cost / (lifetime × yield × rating).
type PVCost struct {
	Cost          *float64 `yaml:"cost"`
	LifetimeYears *float64 `yaml:"lifetime_years"`
	YieldKWhPerKW *float64 `yaml:"yield_kwh_per_kw"`
	KW            *float64 `yaml:"kw"`
}

// Controller is the market configuration of the unit: the defaults with every field given replaced.
// A nil section gives the defaults.
func (m *Market) Controller() fractals.MarketConfig {
	c := fractals.DefaultMarketConfig()
	if m == nil {
		return c
	}
	if m.Interval != 0 {
		c.Interval = m.Interval
	}
	if m.Horizon != 0 {
		c.Horizon = m.Horizon
	}
	if m.Method != "" {
		c.Method = m.Method
	}
	if len(m.ImportTariff) > 0 {
		c.ImportTariff = nil
		for _, b := range m.ImportTariff {
			c.ImportTariff = append(c.ImportTariff, fractals.TariffBand{FromHour: b.FromHour, Price: units.PricePerKWh(b.Price)})
		}
	}
	setPrice(&c.ExportPrice, m.ExportPrice)
	if v := m.Values; v != nil {
		setPrice(&c.CriticalValue, v.Critical)
		setPrice(&c.EssentialValue, v.Essential)
		setPrice(&c.DegradableValue, v.Degradable)
		setPrice(&c.EVValue, v.EV)
		if v.EssentialShare != nil {
			c.EssentialShare = units.Fraction(*v.EssentialShare)
		}
	}
	if b := m.Battery; b != nil {
		setFloat((*float64)(&c.BatteryPrice), b.Price)
		setFloat(&c.BatteryCycleLife, b.CycleLife)
		setFloat((*float64)(&c.BatteryDoD), b.DepthOfDischarge)
	}
	if pv := m.PV; pv != nil {
		setFloat((*float64)(&c.PVCost), pv.Cost)
		setFloat(&c.PVLifetimeYears, pv.LifetimeYears)
		setFloat(&c.PVYieldKWhPerKW, pv.YieldKWhPerKW)
		setFloat(&c.PVKW, pv.KW)
	}
	return c
}

func setPrice(dst *units.PricePerKWh, v *float64) {
	if v != nil {
		*dst = units.PricePerKWh(*v)
	}
}

func setFloat(dst *float64, v *float64) {
	if v != nil {
		*dst = *v
	}
}

// market checks the `market:` section, each error at its line.
func (v *validator) market(m *Market) {
	before := len(v.errs)
	if m.Interval != 0 && (m.Interval < 5*time.Minute || m.Interval > time.Hour) {
		v.fail(p("market", "interval"), "%v outside 5m..60m", m.Interval)
	}
	if m.Horizon != 0 && (m.Horizon < max(m.Interval, 5*time.Minute) || m.Horizon > 7*24*time.Hour) {
		v.fail(p("market", "horizon"), "%v outside the interval..168h", m.Horizon)
	}
	if m.Method != "" && m.Method != "consensus" && m.Method != "distributed" && m.Method != "fractal" {
		v.fail(p("market", "method"), "%q: want consensus, distributed or fractal", m.Method)
	}
	for i, b := range m.ImportTariff {
		switch {
		case i == 0 && b.FromHour != 0:
			v.fail(p("market", "import_tariff", i, "from_hour"), "%d: the first band starts at hour 0", b.FromHour)
		case i > 0 && (b.FromHour <= m.ImportTariff[i-1].FromHour || b.FromHour > 23):
			v.fail(p("market", "import_tariff", i, "from_hour"), "%d: want hours increasing within 1..23", b.FromHour)
		}
		if !(b.Price >= -1e3 && b.Price <= 1e3) {
			v.fail(p("market", "import_tariff", i, "price"), "%g outside -1000..1000 per kWh", b.Price)
		}
	}
	if m.FeederBus < 0 {
		v.fail(p("market", "feeder_bus"), "%d: want a bus number ≥ 1 (0: none)", m.FeederBus)
	}
	v.marketRanges(m)
	// What only the whole section can say (the export price above an import band), at the section.
	if len(v.errs) == before {
		if err := m.Controller().Validate(); err != nil {
			v.fail(p("market"), "%v", err)
		}
	}
}

// marketRanges checks the optional numbers against their ranges.
func (v *validator) marketRanges(m *Market) {
	type field struct {
		path    []any
		v       *float64
		lo, hi  float64
		loOpen  bool
		meaning string
	}
	fields := []field{{p("market", "export_price"), m.ExportPrice, -1e3, 1e3, false, "per kWh"}}
	if x := m.Values; x != nil {
		fields = append(fields,
			field{p("market", "values", "critical"), x.Critical, 0, 1e4, false, "per kWh"},
			field{p("market", "values", "essential"), x.Essential, 0, 1e4, false, "per kWh"},
			field{p("market", "values", "degradable"), x.Degradable, 0, 1e4, false, "per kWh"},
			field{p("market", "values", "essential_share"), x.EssentialShare, 0, 1, false, "a fraction"},
			field{p("market", "values", "ev"), x.EV, 0, 1e4, false, "per kWh"})
	}
	if b := m.Battery; b != nil {
		fields = append(fields,
			field{p("market", "battery", "price"), b.Price, 0, 1e8, false, "money"},
			field{p("market", "battery", "cycle_life"), b.CycleLife, 0, 1e6, true, "full cycles"},
			field{p("market", "battery", "depth_of_discharge"), b.DepthOfDischarge, 0, 1, true, "a fraction"})
	}
	if pv := m.PV; pv != nil {
		fields = append(fields,
			field{p("market", "pv", "cost"), pv.Cost, 0, 1e8, false, "money"},
			field{p("market", "pv", "lifetime_years"), pv.LifetimeYears, 0, 100, true, "years"},
			field{p("market", "pv", "yield_kwh_per_kw"), pv.YieldKWhPerKW, 0, 5000, true, "kWh per kW a year"},
			field{p("market", "pv", "kw"), pv.KW, 0, 1e4, true, "kW"})
	}
	for _, f := range fields {
		if f.v == nil {
			continue
		}
		x := *f.v
		if !(x >= f.lo && x <= f.hi) || (f.loOpen && x == f.lo) {
			open := "["
			if f.loOpen {
				open = "("
			}
			v.fail(f.path, "%g outside %s%g, %g] (%s)", x, open, f.lo, f.hi, f.meaning)
		}
	}
}
