package firmware

import (
	"context"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/units"
)

var _ der.ReactivePowerSetter = simPV{}

// SetReactivePower hands the volt-var set-point to the simulated PV inverter.
func (s simPV) SetReactivePower(_ context.Context, q units.VoltAmperesReactive) error {
	s.p.SetReactivePower(q)
	return nil
}
