package ieee1547

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// FuzzRelay feeds arbitrary measurement sequences (including NaN and infinities from a faulty meter):
// the relay never panics, a trip stays latched, and a tripped DER is never told to energize.
func FuzzRelay(f *testing.F) {
	f.Add(uint8(2), []byte{0, 0, 0, 0, 0, 0, 240, 63, 0, 0, 0, 0, 0, 0, 78, 64})
	f.Add(uint8(1), make([]byte, 64))
	f.Add(uint8(3), []byte{0, 0, 0, 0, 0, 0, 248, 127, 1, 2, 3})
	f.Fuzz(func(t *testing.T, cat uint8, data []byte) {
		r, err := NewRelay(DefaultSettings(Category(cat%3 + 1)))
		if err != nil {
			t.Fatal(err)
		}
		tripped := false
		for len(data) >= 16 {
			v := math.Float64frombits(binary.LittleEndian.Uint64(data))
			fr := math.Float64frombits(binary.LittleEndian.Uint64(data[8:]))
			data = data[16:]
			d := r.Step(Sample{V: units.PerUnit(v), F: units.Hertz(fr)}, DefaultTick)
			if tripped && !d.Trip {
				t.Fatalf("trip released without Reset")
			}
			if d.Trip && d.Energize {
				t.Fatalf("tripped but told to energize: %+v", d)
			}
			tripped = d.Trip
		}
	})
}

// FuzzLagStep checks the response stays between its start and target for any tick.
func FuzzLagStep(f *testing.F) {
	f.Add(0.0, 1.0, int64(time.Second), int64(100*time.Millisecond))
	f.Fuzz(func(t *testing.T, from, to float64, response, dt int64) {
		if math.IsNaN(from) || math.IsNaN(to) || math.IsInf(from, 0) || math.IsInf(to, 0) || dt < 0 {
			return
		}
		l := Lag{ResponseTime: time.Duration(response), Value: from}
		got := l.Step(to, time.Duration(dt))
		lo, hi := math.Min(from, to), math.Max(from, to)
		if got < lo-1e-9*math.Abs(lo) || got > hi+1e-9*math.Abs(hi) {
			t.Fatalf("lag from %g to %g gave %g", from, to, got)
		}
	})
}
