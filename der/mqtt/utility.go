package mqtt

import (
	"context"
	"errors"
	"fmt"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/units"
)

// Points of the utility side of the PCC, as a synchronising relay (or a second meter on the
// utility side of the contactor) publishes them: voltage, frequency and the utility's phase minus
// the island's, in degrees.
const (
	UtilityVoltage   = "utility.voltage"
	UtilityFrequency = "utility.frequency"
	UtilityPhase     = "utility.phase"
)

func init() {
	// Added here rather than in the lists of mqtt.go and plausible.go, so those stay as they are.
	PointNames = append(PointNames, UtilityFrequency, UtilityPhase, UtilityVoltage)
	pointBands[UtilityVoltage] = pointBand{0, der.MaxPlausibleVolts, "V", false}
	pointBands[UtilityFrequency] = pointBand{0, der.MaxPlausibleHertz, "Hz", false}
	pointBands[UtilityPhase] = pointBand{-360, 360, "°", false}
}

var _ der.UtilitySensor = (*Inverter)(nil)

// ReadUtility reports the utility side of the PCC. A device whose mapping has no utility voltage
// and frequency returns der.ErrNoUtilitySensor; a missing phase point reads as in phase.
func (a *Inverter) ReadUtility(context.Context) (der.UtilityStatus, error) {
	var st der.UtilityStatus
	if !a.Dev.HasPoint(UtilityVoltage) || !a.Dev.HasPoint(UtilityFrequency) {
		return st, der.ErrNoUtilitySensor
	}
	v, errV := a.Dev.Value(UtilityVoltage)
	f, errF := a.Dev.Value(UtilityFrequency)
	var errP error
	phase := 0.0
	if a.Dev.HasPoint(UtilityPhase) {
		phase, errP = a.Dev.Value(UtilityPhase)
	}
	if err := errors.Join(errV, errF, errP); err != nil {
		return st, fmt.Errorf("mqtt: device %s: utility side: %w", a.Dev.cfg.Name, err)
	}
	st.Voltage, st.Frequency, st.PhaseDeg = units.Volts(v), units.Hertz(f), phase
	return st, nil
}
