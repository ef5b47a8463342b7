package hil

import (
	"math"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// BatteryConfig describes a battery and its inverter as seen from the AC bus.
type BatteryConfig struct {
	Capacity     units.WattHours
	MaxCharge    units.Watts // AC
	MaxDischarge units.Watts // AC, as a magnitude
	ChargeEff    units.Fraction
	DischargeEff units.Fraction
	SoCMin       units.Fraction // the BMS refuses to go lower
	SoCMax       units.Fraction // the BMS refuses to go higher
	InitialSoC   units.Fraction
}

// DefaultBatteryConfig is a 10 kWh, 5 kW home battery with 95 % one-way efficiencies.
func DefaultBatteryConfig() BatteryConfig {
	return BatteryConfig{Capacity: 10000, MaxCharge: 5000, MaxDischarge: 5000, ChargeEff: 0.95,
		DischargeEff: 0.95, SoCMin: 0.05, SoCMax: 0.95, InitialSoC: 0.5}
}

// battery holds stored energy; flows are AC-side, and the stored energy moves by
// charge × η_charge − discharge ÷ η_discharge.
type battery struct {
	cfg    BatteryConfig
	stored units.WattHours
}

func newBattery(cfg BatteryConfig) *battery {
	return &battery{cfg: cfg, stored: cfg.InitialSoC.Of(cfg.Capacity)}
}

func (b *battery) soc() units.Fraction { return units.Ratio(b.stored, b.cfg.Capacity) }

// chargeLimit is the most AC power it can take for dt without passing SoCMax.
func (b *battery) chargeLimit(dt time.Duration) units.Watts {
	room := b.cfg.SoCMax.Of(b.cfg.Capacity) - b.stored
	byEnergy := units.WattHours(math.Max(0, float64(room)) / float64(b.cfg.ChargeEff)).Per(dt)
	return units.Watts(math.Min(float64(b.cfg.MaxCharge), float64(byEnergy)))
}

// dischargeLimit is the most AC power it can give for dt without passing SoCMin.
func (b *battery) dischargeLimit(dt time.Duration) units.Watts {
	avail := b.stored - b.cfg.SoCMin.Of(b.cfg.Capacity)
	byEnergy := units.WattHours(math.Max(0, float64(avail)) * float64(b.cfg.DischargeEff)).Per(dt)
	return units.Watts(math.Min(float64(b.cfg.MaxDischarge), float64(byEnergy)))
}

// apply moves the stored energy for AC power p (positive charging) held for dt, and returns the AC
// energy charged and discharged.
func (b *battery) apply(p units.Watts, dt time.Duration) (charged, discharged units.WattHours) {
	if p > 0 {
		charged = p.Over(dt)
		b.stored += units.WattHours(float64(charged) * float64(b.cfg.ChargeEff))
	} else if p < 0 {
		discharged = (-p).Over(dt)
		b.stored -= units.WattHours(float64(discharged) / float64(b.cfg.DischargeEff))
	}
	return charged, discharged
}
