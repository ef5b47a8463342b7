package der

import (
	"math"

	"github.com/fractals-energy/fractals/internal/units"
)

// InGridWindow reports whether a meter reading v, f looks like an energised utility: within ±15 % of
// the nominal voltage and ±3 Hz of the nominal frequency. A zero nominal means 230 V or 50 Hz. It is the
// presence rule of meters that have no breaker status point of their own.
func InGridWindow(v units.Volts, f units.Hertz, nominalV units.Volts, nominalF units.Hertz) bool {
	vn, fn := float64(nominalV), float64(nominalF)
	if vn == 0 {
		vn = 230
	}
	if fn == 0 {
		fn = 50
	}
	return math.Abs(float64(v)-vn) <= 0.15*vn && math.Abs(float64(f)-fn) <= 3
}
