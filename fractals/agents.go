package fractals

import (
	"fmt"
	"time"

	"github.com/fractals-energy/fractals/auction"
	"github.com/fractals-energy/fractals/internal/units"
)

// TariffBand is one band of a time-of-use import tariff: Price from FromHour (local time, 0..23) until
// the next band.
type TariffBand struct {
	FromHour int
	Price    units.PricePerKWh
}

// MarketConfig is what the unit's agents bid from: the horizon, the prices and the costs that no
// device reports. Prices are per kWh in the community's currency.
type MarketConfig struct {
	Interval time.Duration // market interval and period length, 5..60 min
	Horizon  time.Duration // receding horizon; only the first period is binding
	Method   string        // consensus (bilateral ADMM with the mesh neighbours, the default), distributed (ADMM exchange) or fractal (one-shot double auction up a cluster tree)

	ImportTariff []TariffBand // time of use, sorted by FromHour, the first from 0
	ExportPrice  units.PricePerKWh

	CriticalValue   units.PricePerKWh // value of lost load of the critical circuit: it bids as unresponsive
	EssentialValue  units.PricePerKWh // a service's essential tier (the AP's beacon and mesh backhaul)
	DegradableValue units.PricePerKWh // a service's degradable tier (client traffic, storage I/O)
	EssentialShare  units.Fraction    // of a service's demand that is essential
	FlexibleValue   units.PricePerKWh // the household's other loads, served when energy is cheap
	EVValue         units.PricePerKWh // energy delivered to the EV by its deadline

	BatteryPrice     units.Money // replacement cost of the pack
	BatteryCycleLife float64     // full cycles at BatteryDoD before end of life
	BatteryDoD       units.Fraction

	PVCost          units.Money // installed cost of the array
	PVLifetimeYears float64
	PVYieldKWhPerKW float64 // annual yield per kW of the array's DC rating
	PVKW            float64 // the array's DC rating
}

// DefaultMarketConfig is a quarter-hour market over a day ahead, with a two-band tariff and costs of
// a small rooftop system: the numbers a newcomer can run before knowing their own.
func DefaultMarketConfig() MarketConfig {
	return MarketConfig{Interval: 15 * time.Minute, Horizon: 24 * time.Hour, Method: "consensus",
		ImportTariff: []TariffBand{{0, 0.20}, {7, 0.30}, {17, 0.40}, {21, 0.20}}, ExportPrice: 0.06,
		CriticalValue: 5, EssentialValue: 2, DegradableValue: 0.35, EssentialShare: 0.5, FlexibleValue: 0.25, EVValue: 0.5,
		BatteryPrice: 5000, BatteryCycleLife: 6000, BatteryDoD: 0.9,
		PVCost: 6000, PVLifetimeYears: 25, PVYieldKWhPerKW: 1300, PVKW: 5}
}

// Validate names each value out of range.
func (m MarketConfig) Validate() error {
	switch {
	case m.Interval < 5*time.Minute || m.Interval > time.Hour:
		return fmt.Errorf("market interval %v out of range [5m, 60m]", m.Interval)
	case m.Horizon < m.Interval || m.Horizon > 7*24*time.Hour:
		return fmt.Errorf("market horizon %v out of range [interval, 168h]", m.Horizon)
	case m.Method != "consensus" && m.Method != "distributed" && m.Method != "fractal":
		return fmt.Errorf("market method %q, want consensus, distributed or fractal", m.Method)
	case len(m.ImportTariff) == 0 || m.ImportTariff[0].FromHour != 0:
		return fmt.Errorf("market import tariff must start with a band from hour 0")
	case !(m.BatteryCycleLife > 0) || !(m.BatteryDoD > 0 && m.BatteryDoD <= 1):
		return fmt.Errorf("battery cycle life %g and depth of discharge %g must be positive (DoD ≤ 1)", m.BatteryCycleLife, float64(m.BatteryDoD))
	case !(m.PVLifetimeYears > 0) || !(m.PVYieldKWhPerKW > 0):
		return fmt.Errorf("pv lifetime %g years and yield %g kWh/kW must be positive", m.PVLifetimeYears, m.PVYieldKWhPerKW)
	case !(m.EssentialShare >= 0 && m.EssentialShare <= 1):
		return fmt.Errorf("services essential share %g out of range [0, 1]", float64(m.EssentialShare))
	}
	for i := 1; i < len(m.ImportTariff); i++ {
		if b := m.ImportTariff[i]; b.FromHour <= m.ImportTariff[i-1].FromHour || b.FromHour > 23 {
			return fmt.Errorf("market import tariff band %d from hour %d: want increasing hours in 1..23", i, b.FromHour)
		}
	}
	for i, b := range m.ImportTariff {
		if b.Price < m.ExportPrice {
			return fmt.Errorf("market import tariff band %d price %g below the export price %g", i, float64(b.Price), float64(m.ExportPrice))
		}
	}
	return nil
}

// Periods is the number of periods of the horizon.
func (m MarketConfig) Periods() int { return int(m.Horizon / m.Interval) }

// ImportPriceAt is the tariff's price at t.
func (m MarketConfig) ImportPriceAt(t time.Time) units.PricePerKWh {
	p := m.ImportTariff[0].Price
	for _, b := range m.ImportTariff {
		if t.Hour() >= b.FromHour {
			p = b.Price
		}
	}
	return p
}

// BatteryWear is the wear cost of each kWh the battery delivers: the pack's price spread over the
// energy it delivers in its life (cycles × depth of discharge × capacity).
func (m MarketConfig) BatteryWear(capacity units.WattHours) units.PricePerKWh {
	life := m.BatteryCycleLife * float64(m.BatteryDoD) * capacity.KWh()
	if life <= 0 {
		return 0
	}
	return units.PricePerKWh(float64(m.BatteryPrice) / life)
}

// PVLCOE is the array's levelised cost: installed cost over lifetime energy (no discounting, no
// operating cost: a rooftop array's are small against its price).
func (m MarketConfig) PVLCOE() units.PricePerKWh {
	life := m.PVLifetimeYears * m.PVYieldKWhPerKW * m.PVKW
	if life <= 0 {
		return 0
	}
	return units.PricePerKWh(float64(m.PVCost) / life)
}

// Forecasts are what the unit expects over the horizon, one value per period.
type Forecasts struct {
	PV       []units.Watts
	Critical []units.Watts
	Services [2]units.Watts // the AP's and storage node's current demand, held over the horizon
}

// BuildAgents is the unit's bid for one market interval starting at from: its agents, named
// "<unit>/<agent>", over the horizon. The critical circuit bids as unresponsive demand at its value of
// lost load; each service splits into an essential and a degradable tier; the EV is a flexible load
// due at its deadline; the battery offers what lies between the reserve islanding needs and its
// ceiling, at its wear cost; the grid agent exists only while connected.
func BuildAgents(unit string, m *MarketConfig, cfg *Config, st State, s *Snapshot, f Forecasts, from time.Time) []auction.Agent {
	n, h := m.Periods(), m.Interval
	agents := []auction.Agent{
		{ID: unit + "/critical", Kind: auction.KindLoad, DemandW: f.Critical, ValuePerKWh: m.CriticalValue},
		{ID: unit + "/pv", Kind: auction.KindPV, ForecastW: f.PV, CostPerKWh: m.PVLCOE()},
	}
	for k, name := range [2]string{"wifi", "storage"} {
		demand := f.Services[k]
		essential := units.Watts(float64(demand) * float64(m.EssentialShare))
		agents = append(agents,
			auction.Agent{ID: unit + "/" + name + "/essential", Kind: auction.KindLoad, DemandW: constant(n, essential), ValuePerKWh: m.EssentialValue},
			auction.Agent{ID: unit + "/" + name + "/degradable", Kind: auction.KindLoad, DemandW: constant(n, demand-essential), ValuePerKWh: m.DegradableValue})
	}
	if ev, ok := evAgent(unit, m, s, from, n, h); ok {
		agents = append(agents, ev)
	}
	agents = append(agents, batteryAgent(unit, m, cfg, st, s))
	if st.Mode == Connected {
		imp, exp := make([]units.PricePerKWh, n), make([]units.PricePerKWh, n)
		for t := range n {
			imp[t], exp[t] = m.ImportPriceAt(from.Add(time.Duration(t)*h)), m.ExportPrice
		}
		agents = append(agents, auction.Agent{ID: unit + "/grid", Kind: auction.KindGrid, ImportPrice: imp, ExportPrice: exp,
			MaxImportW: cfg.MaxImport, MaxExportW: cfg.MaxExport})
	}
	return agents
}

func constant(n int, w units.Watts) []units.Watts {
	out := make([]units.Watts, n)
	for t := range out {
		out[t] = max(0, w)
	}
	return out
}

// evAgent bids the EV's remaining energy as a flexible load due by the last whole period before its
// deadline.
func evAgent(unit string, m *MarketConfig, s *Snapshot, from time.Time, n int, h time.Duration) (auction.Agent, bool) {
	if !s.EVConnected.Good() || !s.EVConnected.Value || !s.EVNeeded.Good() || !s.EVDelivered.Good() || !s.EVMaxPower.Good() {
		return auction.Agent{}, false
	}
	remaining := s.EVNeeded.Value - s.EVDelivered.Value
	if remaining <= 0 {
		return auction.Agent{}, false
	}
	deadline := n
	if s.EVDeadline.Good() {
		deadline = min(n, max(1, int(s.EVDeadline.Value.Sub(from)/h)))
	}
	// What cannot be delivered by the deadline is not bid: the market would only report it unserved.
	remaining = min(remaining, s.EVMaxPower.Value.Over(time.Duration(deadline)*h))
	return auction.Agent{ID: unit + "/ev", Kind: auction.KindFlexibleLoad, EnergyWh: remaining, MaxW: s.EVMaxPower.Value,
		Deadline: deadline, ValuePerKWh: m.EVValue}, true
}

// batteryAgent offers the energy above the floor the controller keeps: the reserve while connected (it
// is kept for outages), the services floor when islanded (the reserve is then what the island lives on).
func batteryAgent(unit string, m *MarketConfig, cfg *Config, st State, s *Snapshot) auction.Agent {
	floor := cfg.Reserve
	if st.Mode == Islanded {
		floor = cfg.ServicesFloor
	}
	usable := (cfg.SoCMax - floor).Of(cfg.BatteryCapacity)
	initial := units.WattHours(0)
	if s.SoC.Quality != Missing {
		initial = max(0, min(usable, s.SoC.Value.Of(cfg.BatteryCapacity)-floor.Of(cfg.BatteryCapacity)))
	}
	return auction.Agent{ID: unit + "/battery", Kind: auction.KindBattery, CapacityWh: usable, InitialWh: initial,
		MaxChargeW: cfg.BatteryMaxCharge, MaxDischargeW: cfg.BatteryMaxDischarge,
		ChargeEfficiency: cfg.ChargeEff, DischargeEfficiency: cfg.DischargeEff, CostPerKWh: m.BatteryWear(cfg.BatteryCapacity)}
}
