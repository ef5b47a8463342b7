package sunspec

import (
	"context"
	"errors"
	"fmt"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/units"
)

// MeterModels are the SunSpec meter models, integer with scale factors (201 single phase, 202
// split phase, 203 wye, 204 delta) and float (211-214, the same layouts).
var MeterModels = []uint16{201, 202, 203, 204, 211, 212, 213, 214}

// Meter is a SunSpec meter as a der.Meter, the PCC meter: W is the total real power, PhV the
// average line-to-neutral voltage (PhVphA when the average is not implemented), Hz the frequency.
// SunSpec counts imported power positive, as the controller does; ExportPositive turns a meter
// installed the other way round.
type Meter struct {
	Dev            *Device
	ExportPositive bool
	// Nominal grid voltage and frequency: the grid is present when both are within ±15 % and ±3 Hz.
	NominalVoltage   units.Volts
	NominalFrequency units.Hertz
}

var _ der.Meter = (*Meter)(nil)

func (m *Meter) model() (uint16, error) {
	for _, id := range MeterModels {
		if m.Dev.Has(id) {
			return id, nil
		}
	}
	return 0, fmt.Errorf("sunspec: device %s has no meter model (201-204, 211-214)", m.Dev.Name)
}

// ReadMeter reports the grid side of the PCC; implausible values are refused (der.ErrImplausible).
func (m *Meter) ReadMeter(context.Context) (der.MeterStatus, error) {
	var st der.MeterStatus
	id, err := m.model()
	if err != nil {
		return st, err
	}
	b, err := m.Dev.Block(id)
	if err != nil {
		return st, err
	}
	w, okW := b.Number("W")
	v, okV := b.Number("PhV")
	if !okV {
		v, okV = b.Number("PhVphA")
	}
	hz, okHz := b.Number("Hz")
	var errs []error
	for _, p := range []struct {
		name string
		ok   bool
	}{{"W", okW}, {"PhV", okV}, {"Hz", okHz}} {
		if !p.ok {
			errs = append(errs, fmt.Errorf("sunspec: device %s: model %d point %s not implemented", m.Dev.Name, id, p.name))
		}
	}
	if m.ExportPositive {
		w = -w
	}
	errs = append(errs, der.CheckRange("meter W", w, -der.MaxPlausibleWatts, der.MaxPlausibleWatts, "W"),
		der.CheckRange("meter PhV", v, 0, der.MaxPlausibleVolts, "V"), der.CheckRange("meter Hz", hz, 0, der.MaxPlausibleHertz, "Hz"))
	if err := errors.Join(errs...); err != nil {
		return st, fmt.Errorf("sunspec: device %s: %w", m.Dev.Name, err)
	}
	st.Power, st.Voltage, st.Frequency = units.Watts(w), units.Volts(v), units.Hertz(hz)
	st.GridPresent = der.InGridWindow(st.Voltage, st.Frequency, m.NominalVoltage, m.NominalFrequency)
	return st, nil
}
