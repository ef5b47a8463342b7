package ieee1547

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// FuzzRelay feeds arbitrary measurement sequences (including NaN and infinities from a faulty meter):
// the relay never panics, a trip stays latched, a tripped DER is never told to energize, and neither is
// one whose measurement failed.
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
			if (!finite(v) || !finite(fr)) && (d.Energize || !d.MeasurementFailure) {
				t.Fatalf("failed measurement V=%g F=%g: %+v; want it flagged and no energizing", v, fr, d)
			}
			tripped = d.Trip
		}
	})
}

// FuzzRelayTripsDespiteNaNs holds one quantity just beyond one trip function's level (default settings
// of any category, any allowed tick) and replaces samples with NaN or infinities where mask says so: the
// relay must trip no later than tripDeadline after the first valid sample beyond the level, whatever the
// failures, must flag every failed sample, and must never tell the DER to energize on one.
func FuzzRelayTripsDespiteNaNs(f *testing.F) {
	f.Add(uint8(2), uint8(0), uint8(1), []byte{0, 1})          // OV2 with every other sample NaN
	f.Add(uint8(1), uint8(2), uint8(0), []byte{0, 1, 1, 1, 0}) // UV1 with long gaps
	f.Add(uint8(3), uint8(7), uint8(2), []byte{3, 2, 0})       // UF2, both quantities failing
	f.Add(uint8(2), uint8(4), uint8(1), []byte{1, 1, 0})       // OF2 starting with failures
	f.Fuzz(func(t *testing.T, cat, fn, tickSel uint8, mask []byte) {
		if len(mask) == 0 {
			mask = []byte{0}
		}
		s := DefaultSettings(Category(cat%3 + 1))
		s.Tick = []time.Duration{MinTick, DefaultTick, 250 * time.Millisecond, MaxTick}[tickSel%4]
		r, err := NewRelay(s)
		if err != nil {
			t.Fatal(err)
		}
		e := excursions(s)[fn%8]
		margin := 0.01 // p.u.
		if !e.voltage {
			margin = 0.05 // Hz
		}
		beyond := e.setting.Level + margin
		if !e.over {
			beyond = e.setting.Level - margin
		}
		bad := []float64{math.NaN(), math.Inf(1), math.Inf(-1)}
		started, since := false, time.Duration(0)
		deadline := tripDeadline(e.setting.Clearing, s.Tick)
		for k := 0; ; k++ {
			m := Sample{V: 1, F: NominalFrequency}
			if e.voltage {
				m.V = units.PerUnit(beyond)
			} else {
				m.F = units.Hertz(beyond)
			}
			code := mask[k%len(mask)]
			failed := code%4 != 0
			if code%4 == 1 || code%4 == 3 {
				m.V = units.PerUnit(bad[int(code/4)%3])
			}
			if code%4 == 2 || code%4 == 3 {
				m.F = units.Hertz(bad[int(code/4)%3])
			}
			if started {
				since += s.Tick
			}
			d := r.Step(m, s.Tick)
			if failed && (d.Energize || !d.MeasurementFailure) {
				t.Fatalf("sample %d %+v: %+v; want a flagged failure and no energizing", k, m, d)
			}
			watched := float64(m.V)
			if !e.voltage {
				watched = float64(m.F)
			}
			started = started || finite(watched)
			if d.Trip {
				return
			}
			if started && since >= deadline {
				t.Fatalf("%s held beyond %g for %v after its first valid sample (mask %v), no trip; want one by %v", e.name, beyond, since, mask, deadline)
			}
			if k > 1000 && !started {
				return // the mask never lets a valid sample of the watched quantity through
			}
		}
	})
}

// tripDeadline is how long after the first sample beyond its level a trip function with the given
// clearing time must have tripped at the given tick: the last sample no later than the clearing time.
func tripDeadline(clearing, tick time.Duration) time.Duration {
	return clearing / tick * tick
}

// FuzzLagStep checks the response stays between its start and target for any tick, holds its value on
// a non-finite target, and is never poisoned by one: a finite target afterwards is followed as usual.
func FuzzLagStep(f *testing.F) {
	f.Add(0.0, 1.0, int64(time.Second), int64(100*time.Millisecond))
	f.Add(0.5, math.NaN(), int64(time.Second), int64(100*time.Millisecond))
	f.Add(0.5, math.Inf(-1), int64(5*time.Second), int64(-1))
	f.Fuzz(func(t *testing.T, from, to float64, response, dt int64) {
		if !finite(from) {
			return
		}
		l := Lag{ResponseTime: time.Duration(response), Value: from}
		got := l.Step(to, time.Duration(dt))
		if !finite(to) {
			if got != from || l.Value != from {
				t.Fatalf("lag at %g given target %g moved to %g", from, to, got)
			}
			to = 0.25 // then a valid target again
			got = l.Step(to, time.Duration(dt))
		}
		lo, hi := math.Min(from, to), math.Max(from, to)
		if !finite(got) || got < lo-1e-9*math.Abs(lo) || got > hi+1e-9*math.Abs(hi) {
			t.Fatalf("lag from %g to %g gave %g", from, to, got)
		}
	})
}
