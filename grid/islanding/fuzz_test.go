package islanding

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// FuzzDetector feeds arbitrary sample streams (timestamps may repeat or go back, values may be NaN or
// infinite): the detector never panics, refuses bad samples with an error, and a detection stays latched.
func FuzzDetector(f *testing.F) {
	f.Add([]byte{100, 0, 0, 0, 0, 0, 0, 240, 63, 0, 0, 0, 0, 0, 0, 78, 64, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add(make([]byte, 80))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := New(DefaultSettings())
		if err != nil {
			t.Fatal(err)
		}
		at := t0
		detected := false
		for len(data) >= 26 {
			at = at.Add(time.Duration(int8(data[0])) * time.Millisecond)
			s := Sample{
				At:            at,
				V:             units.PerUnit(math.Float64frombits(binary.LittleEndian.Uint64(data[1:]))),
				F:             units.Hertz(math.Float64frombits(binary.LittleEndian.Uint64(data[9:]))),
				PhaseDeg:      math.Float64frombits(binary.LittleEndian.Uint64(data[17:])),
				BreakerClosed: data[25]&1 == 1,
			}
			data = data[26:]
			_, ok, err := d.Step(s)
			if err != nil {
				continue
			}
			if detected && !ok {
				t.Fatalf("detection released without Reset")
			}
			detected = ok
		}
	})
}
