package units

import (
	"fmt"
	"math"
	"time"
)

// Watts is active power. On the AC bus of a unit, the sign convention of each field that holds it is
// documented where it is declared (consumption positive unless said otherwise).
type Watts float64

// WattHours is energy.
type WattHours float64

// Volts is an RMS voltage.
type Volts float64

// Hertz is a frequency.
type Hertz float64

// PerUnit is a quantity relative to its base (1.0 = nominal).
type PerUnit float64

// Fraction is a dimensionless ratio between 0 and 1 such as a state of charge or an efficiency.
type Fraction float64

// PricePerKWh is a price in the currency unit of the market per kilowatt-hour.
type PricePerKWh float64

// Money is an amount in the currency unit of the market.
type Money float64

// Celsius is a temperature.
type Celsius float64

// WattsPerSquareMetre is an irradiance.
type WattsPerSquareMetre float64

// Hours returns d as a floating-point number of hours.
func Hours(d time.Duration) float64 { return d.Hours() }

// Over is the energy delivered by power p held for d.
func (p Watts) Over(d time.Duration) WattHours { return WattHours(float64(p) * d.Hours()) }

// KW returns p in kilowatts.
func (p Watts) KW() float64 { return float64(p) / 1000 }

// Clamp limits p to [lo, hi].
func (p Watts) Clamp(lo, hi Watts) Watts {
	return Watts(math.Min(math.Max(float64(p), float64(lo)), float64(hi)))
}

// Abs returns |p|.
func (p Watts) Abs() Watts { return Watts(math.Abs(float64(p))) }

// String formats p with its unit.
func (p Watts) String() string { return fmt.Sprintf("%.1f W", float64(p)) }

// Per is the constant power that delivers e over d. A zero or negative duration gives 0.
func (e WattHours) Per(d time.Duration) Watts {
	if d <= 0 {
		return 0
	}
	return Watts(float64(e) / d.Hours())
}

// KWh returns e in kilowatt-hours.
func (e WattHours) KWh() float64 { return float64(e) / 1000 }

// String formats e with its unit.
func (e WattHours) String() string { return fmt.Sprintf("%.1f Wh", float64(e)) }

// Cost is the money paid for energy e at price p.
func (p PricePerKWh) Cost(e WattHours) Money { return Money(float64(p) * e.KWh()) }

// String formats v with its unit.
func (v Volts) String() string { return fmt.Sprintf("%.1f V", float64(v)) }

// String formats f with its unit.
func (f Hertz) String() string { return fmt.Sprintf("%.3f Hz", float64(f)) }

// String formats x as a percentage.
func (x Fraction) String() string { return fmt.Sprintf("%.1f %%", float64(x)*100) }

// Clamp limits x to [lo, hi].
func (x Fraction) Clamp(lo, hi Fraction) Fraction {
	return Fraction(math.Min(math.Max(float64(x), float64(lo)), float64(hi)))
}

// Of returns the fraction x of energy e.
func (x Fraction) Of(e WattHours) WattHours { return WattHours(float64(x) * float64(e)) }

// PU returns v relative to base.
func (v Volts) PU(base Volts) PerUnit { return PerUnit(float64(v) / float64(base)) }

// Volts returns the voltage x × base.
func (x PerUnit) Volts(base Volts) Volts { return Volts(float64(x) * float64(base)) }

// Ratio is the fraction e/capacity; a zero capacity gives 0.
func Ratio(e, capacity WattHours) Fraction {
	if capacity == 0 {
		return 0
	}
	return Fraction(float64(e) / float64(capacity))
}
