package der

import (
	"errors"
	"fmt"
	"math"
)

// ErrImplausible is returned (wrapped, with the reason) by a device whose reading cannot be true:
// a power far beyond its rating or beyond any unit's connection, a voltage or frequency outside
// every plausible band, a boolean where a number belongs. The controller counts it as a failed
// read, like a timeout, instead of acting on it.
var ErrImplausible = errors.New("der: implausible reading")

// Physical bounds no reading of a MeshBox++ unit's devices can exceed, whatever their rating.
const (
	MaxPlausibleWatts     = 10e6 // 10 MW: far above any unit's connection, below garbage like 1e12
	MaxPlausibleVolts     = 1000 // low-voltage equipment
	MaxPlausibleHertz     = 100  // 50/60 Hz grids with a wide margin; 0 is a dead line
	MaxPlausibleWattHours = 100e6
	// RatingMargin is how many times its rating a device's reported power may be before the
	// reading is refused: inverters overload briefly, but not by more than this.
	RatingMargin = 3
)

// CheckRange returns an error wrapping ErrImplausible when v is not finite or outside min..max;
// what names the quantity ("meter.power") and unit its unit ("W").
func CheckRange(what string, v, min, max float64, unit string) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < min || v > max {
		return fmt.Errorf("%s %g %s outside %g..%g %s: %w", what, v, unit, min, max, unit, ErrImplausible)
	}
	return nil
}

// CheckRated returns an error wrapping ErrImplausible when the magnitude of a power exceeds
// RatingMargin times rating; a rating ≤ 0 (unknown) checks nothing.
func CheckRated(what string, w, rating float64) error {
	if rating <= 0 || math.Abs(w) <= RatingMargin*rating {
		return nil
	}
	return fmt.Errorf("%s %g W beyond %g × the rating %g W: %w", what, w, float64(RatingMargin), rating, ErrImplausible)
}
