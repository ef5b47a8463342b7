package firmware

import (
	"context"

	"github.com/fractals-energy/fractals/der"
)

// ReadUtility passes the utility side through the grid-present input's wrapper, so a meter that
// senses it keeps doing so when the site also wires a grid-present input.
func (g *gridInputMeter) ReadUtility(ctx context.Context) (der.UtilityStatus, error) {
	us, ok := g.m.(der.UtilitySensor)
	if !ok {
		return der.UtilityStatus{}, der.ErrNoUtilitySensor
	}
	return us.ReadUtility(ctx)
}
