package mqtt

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/units"
)

// Inverter adapts an MQTT device to the der interfaces its mapping supports: der.PVInverter
// (pv.power, pv.limit), der.Battery (battery.soc, battery.power, and battery.setpoint or
// acin.setpoint with acout.power) and der.Meter
// (meter.power, meter.voltage, meter.frequency). Ratings the device does not publish come from
// the configuration.
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

// ErrRatingUnknown is returned by ReadPV when neither the device (pv.rated) nor the configuration
// gives the inverter's rating.
var ErrRatingUnknown = errors.New("mqtt: PV rating unknown (no pv.rated value and no configured rating)")

// ReadPV reports PV power; available power is unknown (-1) unless the mapping has pv.available.
// The rating is the device's pv.rated value while it is fresh, else PVRated from the
// configuration. A rating that neither gives is not reported as 0, which the controller would take
// as "cap PV at 0 W": the reading fails with ErrRatingUnknown (wrapping der.ErrStale) instead, so
// the controller treats the whole PV reading as missing until the rating is known. The
// configuration refuses a pv device with neither, so this only happens while a mapped pv.rated
// topic has not been heard yet.
func (a *Inverter) ReadPV(context.Context) (der.PVStatus, error) {
	st := der.PVStatus{Available: -1, Rated: a.PVRated}
	w, err := a.Dev.Value(PVPower)
	st.Power = units.Watts(math.Max(w, 0))
	if a.Dev.HasPoint(PVAvailable) {
		if v, e := a.Dev.Value(PVAvailable); e == nil {
			st.Available = units.Watts(v)
		}
	}
	if a.Dev.HasPoint(PVRated) {
		if v, e := a.Dev.Value(PVRated); e == nil && v > 0 {
			st.Rated = units.Watts(v)
		}
	}
	if st.Rated <= 0 && err == nil {
		err = fmt.Errorf("mqtt: device %s: %w: %w", a.Dev.Name(), ErrRatingUnknown, der.ErrStale)
	}
	if err == nil {
		if err = der.CheckRated(PVPower, w, float64(st.Rated)); err != nil {
			err = fmt.Errorf("mqtt: device %s: %w", a.Dev.Name(), err)
		}
	}
	return st, err
}

// SetPVLimit publishes the limit in W.
func (a *Inverter) SetPVLimit(ctx context.Context, limit units.Watts) error {
	if limit < 0 || math.IsNaN(float64(limit)) {
		return fmt.Errorf("mqtt: PV limit %v W must be ≥ 0", float64(limit))
	}
	return a.Dev.Command(ctx, CmdPVLimit, float64(limit))
}

// ReadBattery reports the battery from its SoC (percent) and power.
func (a *Inverter) ReadBattery(context.Context) (der.BatteryStatus, error) {
	st := der.BatteryStatus{Capacity: a.Capacity, MaxCharge: a.MaxCharge, MaxDischarge: a.MaxDischarge,
		ChargeEff: 1, DischargeEff: 1, SoCMax: 1}
	soc, err1 := a.Dev.Value(BatterySoC)
	p, err2 := a.Dev.Value(BatteryPower)
	st.SoC, st.Power = units.Fraction(soc/100), units.Watts(p)
	if err2 == nil {
		if err := der.CheckRated(BatteryPower, p, float64(max(a.MaxCharge, a.MaxDischarge))); err != nil {
			err2 = fmt.Errorf("mqtt: device %s: %w", a.Dev.Name(), err)
		}
	}
	return st, errors.Join(err1, err2)
}

// SetBatteryPower sets the battery power, positive to charge. A device with a battery set-point
// command gets p as it is. A device that only takes an AC-input set-point (Victron ESS mode 3)
// gets the AC-input power that makes the battery take p now: p + AC-out consumption − DC PV
// (the Multi's power balance, losses left to the next cycle's correction). The conversion needs
// fresh AC-out and DC PV values; without them nothing is written and the error says why. A known
// ESS mode other than 3 is refused, since Venus OS would ignore the set-point.
func (a *Inverter) SetBatteryPower(ctx context.Context, p units.Watts) error {
	if _, ok := a.Dev.cfg.Mapping.Commands[CmdBatterySetting]; ok {
		return a.Dev.Command(ctx, CmdBatterySetting, float64(p))
	}
	target, err := a.ACInTarget(p)
	if err != nil {
		return err
	}
	return a.Dev.Command(ctx, CmdACInSetpoint, float64(target))
}

// ACInTarget is the AC-input set-point that makes the battery take p (positive charging) at the
// present AC-out consumption and DC PV power.
func (a *Inverter) ACInTarget(p units.Watts) (units.Watts, error) {
	name := a.Dev.Name()
	if a.Dev.HasPoint(ESSMode) {
		if mode, err := a.Dev.Value(ESSMode); err == nil && mode != 3 {
			return 0, fmt.Errorf("mqtt: device %s: ESS mode %v, the AC-input set-point needs mode 3 (external control)", name, mode)
		}
	}
	out, err := a.Dev.Value(ACOutPower)
	if err != nil {
		return 0, fmt.Errorf("mqtt: device %s: battery set-point %v W needs the AC-out consumption: %w", name, float64(p), err)
	}
	pv := 0.0
	if a.Dev.HasPoint(PVPower) {
		if pv, err = a.Dev.Value(PVPower); err != nil {
			return 0, fmt.Errorf("mqtt: device %s: battery set-point %v W needs the DC PV power: %w", name, float64(p), err)
		}
	}
	return p + units.Watts(out) - units.Watts(math.Max(pv, 0)), nil
}

// ReadMeter reports the grid side.
func (a *Inverter) ReadMeter(context.Context) (der.MeterStatus, error) {
	var st der.MeterStatus
	var errs []error
	read := func(point string) float64 {
		if !a.Dev.HasPoint(point) {
			return math.NaN()
		}
		v, err := a.Dev.Value(point)
		if err != nil {
			errs = append(errs, err)
			return math.NaN()
		}
		return v
	}
	w, v, f := read(MeterPower), read(MeterVoltage), read(MeterFrequency)
	if !math.IsNaN(w) {
		st.Power = units.Watts(w)
	}
	if !math.IsNaN(v) {
		st.Voltage = units.Volts(v)
	}
	if !math.IsNaN(f) {
		st.Frequency = units.Hertz(f)
	}
	st.GridPresent = !math.IsNaN(v) && !math.IsNaN(f) && der.InGridWindow(units.Volts(v), units.Hertz(f), a.NominalVoltage, a.NominalFrequency)
	// A meter on the unit's side of the PCC sees the island's own voltage and frequency while the
	// battery forms the grid: only a point that watches the utility side can tell an outage.
	if present := read(MeterPresent); !math.IsNaN(present) {
		st.GridPresent = present >= 0.5
	}
	return st, errors.Join(errs...)
}
