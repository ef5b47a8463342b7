package regmap

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/units"
)

// Point and set-point names a map may use; the same as der/mqtt's where they mean the same.
const (
	PVPower          = "pv.power"
	PVRated          = "pv.rated"
	PVAvailable      = "pv.available"
	PVLimit          = "pv.limit"      // set-point in W
	PVLimitPct       = "pv.limit_pct"  // set-point in % of the rating
	BatteryPower     = "battery.power" // positive while charging
	BatterySoC       = "battery.soc"   // percent
	BatteryCapacity  = "battery.capacity"
	BatteryMaxCharge = "battery.max_charge"
	BatteryMaxDischg = "battery.max_discharge"
	BatterySetpoint  = "battery.setpoint" // set-point in W, positive to charge
	MeterPower       = "meter.power"      // positive while importing
	MeterVoltage     = "meter.voltage"
	MeterFrequency   = "meter.frequency"
	MeterPresent     = "meter.present"
)

// Inverter adapts a Device to der.PVInverter, der.Battery and der.Meter, for the points its map
// has. Ratings the device does not report come from the configuration.
type Inverter struct {
	Dev          *Device
	PVRated      units.Watts
	Capacity     units.WattHours
	MaxCharge    units.Watts
	MaxDischarge units.Watts
	// Nominal grid voltage and frequency: the grid is present when both are within ±15 % and ±3 Hz.
	NominalVoltage   units.Volts
	NominalFrequency units.Hertz
}

var (
	_ der.PVInverter = (*Inverter)(nil)
	_ der.Battery    = (*Inverter)(nil)
	_ der.Meter      = (*Inverter)(nil)
)

func (a *Inverter) optional(point string, fallback float64) float64 {
	if a.Dev.Has(point) {
		if v, err := a.Dev.Number(point); err == nil && v > 0 {
			return v
		}
	}
	return fallback
}

// rated is the PV rating: the device's while fresh, else the configured one.
func (a *Inverter) rated() float64 { return a.optional(PVRated, float64(a.PVRated)) }

// ReadPV reports PV power and the rating; a power beyond der.RatingMargin times the rating is
// refused as implausible.
func (a *Inverter) ReadPV(ctx context.Context) (der.PVStatus, error) {
	st := der.PVStatus{Available: -1}
	if err := a.Dev.refresh(ctx); err != nil {
		return st, err
	}
	w, err := a.Dev.Number(PVPower)
	st.Power, st.Rated = units.Watts(math.Max(w, 0)), units.Watts(a.rated())
	if a.Dev.Has(PVAvailable) {
		if v, e := a.Dev.Number(PVAvailable); e == nil {
			st.Available = units.Watts(v)
		}
	}
	if err == nil && st.Rated <= 0 {
		err = fmt.Errorf("regmap: device %s: PV rating unknown (no pv.rated point and no configured rating): %w", a.Dev.name, der.ErrStale)
	}
	if err == nil {
		err = der.CheckRated(PVPower, w, float64(st.Rated))
	}
	return st, err
}

// SetPVLimit writes the limit in W, or in percent of the rating when the map has only that.
func (a *Inverter) SetPVLimit(ctx context.Context, limit units.Watts) error {
	if limit < 0 || math.IsNaN(float64(limit)) {
		return fmt.Errorf("regmap: PV limit %v W must be ≥ 0", float64(limit))
	}
	if a.Dev.Setpoint(PVLimit) != nil {
		s := a.Dev.Setpoint(PVLimit)
		return a.Dev.Write(ctx, PVLimit, math.Min(float64(limit), s.Max))
	}
	rated := a.rated()
	if a.Dev.Setpoint(PVLimitPct) == nil || rated <= 0 {
		return fmt.Errorf("regmap: device %s: no pv.limit set-point (or pv.limit_pct with a known rating)", a.Dev.name)
	}
	return a.Dev.Write(ctx, PVLimitPct, math.Min(100, 100*float64(limit)/rated))
}

// ReadBattery reports the battery from its SoC (percent) and power (positive charging).
func (a *Inverter) ReadBattery(ctx context.Context) (der.BatteryStatus, error) {
	st := der.BatteryStatus{ChargeEff: 1, DischargeEff: 1, SoCMax: 1}
	if err := a.Dev.refresh(ctx); err != nil {
		return st, err
	}
	st.Capacity = units.WattHours(a.optional(BatteryCapacity, float64(a.Capacity)))
	st.MaxCharge = units.Watts(a.optional(BatteryMaxCharge, float64(a.MaxCharge)))
	st.MaxDischarge = units.Watts(a.optional(BatteryMaxDischg, float64(a.MaxDischarge)))
	soc, err1 := a.Dev.Number(BatterySoC)
	p, err2 := a.Dev.Number(BatteryPower)
	st.SoC, st.Power = units.Fraction(soc/100), units.Watts(p)
	if err2 == nil {
		err2 = der.CheckRated(BatteryPower, p, float64(max(st.MaxCharge, st.MaxDischarge)))
	}
	return st, errors.Join(err1, err2)
}

// SetBatteryPower writes the battery set-point (positive to charge), clamped to its limits: the
// controller's request stays within the BMS limits it read, the map's limits are the device's.
func (a *Inverter) SetBatteryPower(ctx context.Context, p units.Watts) error {
	s := a.Dev.Setpoint(BatterySetpoint)
	if s == nil {
		return fmt.Errorf("regmap: device %s: no battery.setpoint in its map", a.Dev.name)
	}
	if math.IsNaN(float64(p)) {
		return fmt.Errorf("regmap: battery set-point is NaN")
	}
	return a.Dev.Write(ctx, BatterySetpoint, math.Max(s.Min, math.Min(s.Max, float64(p))))
}

// ReadMeter reports the grid side of the PCC.
func (a *Inverter) ReadMeter(ctx context.Context) (der.MeterStatus, error) {
	var st der.MeterStatus
	if err := a.Dev.refresh(ctx); err != nil {
		return st, err
	}
	w, err1 := a.Dev.Number(MeterPower)
	v, err2 := a.Dev.Number(MeterVoltage)
	f, err3 := a.Dev.Number(MeterFrequency)
	st.Power, st.Voltage, st.Frequency = units.Watts(w), units.Volts(v), units.Hertz(f)
	st.GridPresent = err2 == nil && err3 == nil && der.InGridWindow(st.Voltage, st.Frequency, a.NominalVoltage, a.NominalFrequency)
	if a.Dev.Has(MeterPresent) {
		present, err := a.Dev.Number(MeterPresent)
		st.GridPresent = err == nil && present >= 0.5
	}
	return st, errors.Join(err1, err2, err3)
}
