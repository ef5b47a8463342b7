package firmware

import (
	"context"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/units"
)

var (
	_ der.ReactivePowerSetter = simPV{}
	_ der.FrequencyShifter    = simPV{}
	_ der.Energizer           = simBattery{}
)

// SetEnergize is the simulated inverters' connect/disconnect control (a black start after a trip).
func (s simBattery) SetEnergize(_ context.Context, on bool) error {
	s.p.SetEnergize(on)
	return nil
}

// SetFrequencyShift turns the simulated PV inverter's Sandia frequency shift on or off.
func (s simPV) SetFrequencyShift(_ context.Context, on bool) error {
	s.p.SetFrequencyShift(on)
	return nil
}

// SetReactivePower hands the volt-var set-point to the simulated PV inverter.
func (s simPV) SetReactivePower(_ context.Context, q units.VoltAmperesReactive) error {
	s.p.SetReactivePower(q)
	return nil
}
