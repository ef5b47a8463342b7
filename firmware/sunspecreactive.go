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
