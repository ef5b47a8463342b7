package der

import (
	"testing"

	"github.com/fractals-energy/fractals/internal/units"
)

func TestInGridWindow(t *testing.T) {
	for _, c := range []struct {
		v    units.Volts
		f    units.Hertz
		nv   units.Volts
		nf   units.Hertz
		want bool
	}{
		{230, 50, 0, 0, true},      // defaults 230 V, 50 Hz
		{264.5, 53, 0, 0, true},    // both at the edge
		{265, 50, 0, 0, false},     // beyond +15 %
		{230, 46.9, 0, 0, false},   // beyond −3 Hz
		{120, 60, 120, 60, true},   // a 60 Hz site
		{120, 60, 0, 0, false},     // the same reading against the defaults
		{0, 0, 230, 50, false},     // dead utility
		{102, 57.1, 120, 60, true}, // −15 % and −2.9 Hz
	} {
		if got := InGridWindow(c.v, c.f, c.nv, c.nf); got != c.want {
			t.Errorf("InGridWindow(%v, %v, %v, %v) = %v, want %v", c.v, c.f, c.nv, c.nf, got, c.want)
		}
	}
}
