package firmware

import (
	"context"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/units"
)

var _ der.ReactivePowerSetter = (*polledHybrid)(nil)

// SetReactivePower hands the volt-var set-point to the SunSpec hybrid (model 704, else 123).
func (p *polledHybrid) SetReactivePower(ctx context.Context, q units.VoltAmperesReactive) error {
	return p.h.SetReactivePower(ctx, q)
}

var _ der.Energizer = (*polledHybrid)(nil)

// SetEnergize hands the cease-to-energize command to the SunSpec hybrid (model 123 Conn).
func (p *polledHybrid) SetEnergize(ctx context.Context, on bool) error {
	return p.h.SetEnergize(ctx, on)
}
