package islanding

import (
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const tick = 100 * time.Millisecond

// signal describes the measurements from the event at t0 on: before t0 the grid is nominal. jump is a
// phase step (degrees) on top of the phase the frequency accumulates.
type signal func(since time.Duration) (v, f, jump float64, closed bool)

// run feeds 5 s of nominal samples, then the signal, and returns the detection (if any within 3 s).
func run(t *testing.T, s Settings, sig signal) (Detection, bool) {
	t.Helper()
	d, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	for at := t0.Add(-5 * time.Second); at.Before(t0); at = at.Add(tick) {
		if det, ok, err := d.Step(Sample{At: at, V: 1, F: 60, BreakerClosed: true}); err != nil || ok {
			t.Fatalf("nominal grid: %v %v", det, err)
		}
	}
	phase, prevF := 0.0, 60.0
	for since := time.Duration(0); since <= 3*time.Second; since += tick {
		v, f, jump, closed := sig(since)
		// the phase a PLL reports: the integral of (f − 60 Hz), trapezoidal between samples
		phase += 360 * ((prevF+f)/2 - 60) * tick.Seconds()
		prevF = f
		det, ok, err := d.Step(Sample{At: t0.Add(since), V: units.PerUnit(v), F: units.Hertz(f), PhaseDeg: phase + jump, BreakerClosed: closed})
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return det, true
		}
	}
	return Detection{}, false
}

func TestEachMethodDetectsWithinItsTime(t *testing.T) {
	for _, tc := range []struct {
		method Method
		sig    signal
	}{
		{BreakerOpen, func(time.Duration) (float64, float64, float64, bool) { return 1, 60, 0, false }},
		{UnderVoltage, func(time.Duration) (float64, float64, float64, bool) { return 0.85, 60, 0, true }},
		{OverVoltage, func(time.Duration) (float64, float64, float64, bool) { return 1.12, 60, 0, true }},
		{UnderFrequency, func(time.Duration) (float64, float64, float64, bool) { return 1, 59.2, 0, true }},
		{OverFrequency, func(time.Duration) (float64, float64, float64, bool) { return 1, 60.6, 0, true }},
		// frequency falling at 4 Hz/s (a large import lost): seen by RoCoF before the 59.3 Hz level
		{RoCoF, func(d time.Duration) (float64, float64, float64, bool) { return 1, 60 - 4*d.Seconds(), 0, true }},
		// the phase jumps 15° when the utility's stiff source is lost
		{VectorShift, func(time.Duration) (float64, float64, float64, bool) { return 1, 60, 15, true }},
	} {
		s := DefaultSettings()
		if tc.method == UnderFrequency || tc.method == OverFrequency {
			// a frequency step at t0 is also a fast frequency change and a phase jump (0.8 Hz over a
			// 100 ms tick is 14.4°): desensitise RoCoF and vector shift so the level functions are tested
			s.RoCoFLimit, s.VectorShiftDeg = 10, 30
		}
		det, ok := run(t, s, tc.sig)
		limit := s.DetectionTime(tc.method, tick)
		if !ok || det.Method != tc.method || det.At.Sub(t0) > limit || det.Delay() > limit || det.At.Before(t0) {
			t.Errorf("%v: detected %v (%v) at %v after t0; want %v within %v", tc.method, ok, det, det.At.Sub(t0), tc.method, limit)
		}
		if limit > MaxDetectionTime {
			t.Errorf("%v: detection time %v beyond the 2 s of IEEE 1547-2018", tc.method, limit)
		}
	}
}

func TestNoFalseDetection(t *testing.T) {
	s := DefaultSettings()
	for name, sig := range map[string]signal{
		// an off-nominal but steady frequency: the phase drifts steadily, which is no vector shift
		"steady 60.3 Hz": func(time.Duration) (float64, float64, float64, bool) { return 1, 60.3, 0, true },
		// a grid event category II units ride through: 2 Hz/s for 0.3 s
		"2 Hz/s for 0.3 s": func(d time.Duration) (float64, float64, float64, bool) {
			x := d.Seconds()
			if x > 0.3 {
				x = 0.3
			}
			return 1, 60 - 2*x, 0, true
		},
		// a short sag shorter than the under-voltage delay
		"0.4 s sag": func(d time.Duration) (float64, float64, float64, bool) {
			if d < 400*time.Millisecond {
				return 0.8, 60, 0, true
			}
			return 1, 60, 0, true
		},
		"phase step of 5°": func(time.Duration) (float64, float64, float64, bool) { return 1, 60, 5, true },
	} {
		if det, ok := run(t, s, sig); ok {
			t.Errorf("%s: false detection %v", name, det)
		}
	}
}

func TestDetectorRefusesBadInput(t *testing.T) {
	d, err := New(DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Step(Sample{At: t0, V: 1, F: 60, BreakerClosed: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Step(Sample{At: t0, V: 1, F: 60, BreakerClosed: true}); err == nil || !strings.Contains(err.Error(), "not after") {
		t.Errorf("repeated timestamp: %v", err)
	}
	s := DefaultSettings()
	s.RoCoFWindow = 5 * time.Second
	if _, err := New(s); err == nil || !strings.Contains(err.Error(), "RoCoF window 5s outside the allowed 20ms to 2s") {
		t.Errorf("5 s window: %v", err)
	}
	s = DefaultSettings()
	s.UnderFrequency.Level = 61
	if _, err := New(s); err == nil || !strings.Contains(err.Error(), "under-frequency level 61") {
		t.Errorf("under-frequency above nominal: %v", err)
	}
}

func TestDetectionLatchesUntilReset(t *testing.T) {
	d, _ := New(DefaultSettings())
	d.Step(Sample{At: t0, V: 1, F: 60, BreakerClosed: false})
	if det, ok, _ := d.Step(Sample{At: t0.Add(tick), V: 1, F: 60, BreakerClosed: true}); !ok || det.Method != BreakerOpen {
		t.Fatalf("detection not latched: %v %v", det, ok)
	}
	d.Reset()
	if _, ok, _ := d.Step(Sample{At: t0.Add(2 * tick), V: 1, F: 60, BreakerClosed: true}); ok {
		t.Fatal("still detected after Reset")
	}
}

// TestFiftyHertzDefaults: on a 50 Hz system the defaults detect nothing at 50 Hz, detect under- and
// over-frequency at the scaled levels (49.42 and 50.42 Hz) after their delays and not just inside them,
// and a nominal frequency other than 50 or 60 Hz is refused.
func TestFiftyHertzDefaults(t *testing.T) {
	s := DefaultSettingsAt(50)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	feed := func(f float64, dur time.Duration) (Detection, bool) {
		t.Helper()
		d, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		for since := time.Duration(0); since <= dur; since += tick {
			det, ok, err := d.Step(Sample{At: t0.Add(since), V: 1, F: units.Hertz(f), PhaseDeg: 360 * (f - 50) * since.Seconds(), BreakerClosed: true})
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				return det, true
			}
		}
		return Detection{}, false
	}
	if det, ok := feed(50, 10*time.Second); ok {
		t.Fatalf("50 Hz grid seen as an island: %v", det)
	}
	for _, tc := range []struct {
		f      float64
		method Method
		detect bool
	}{{49.40, UnderFrequency, true}, {49.43, 0, false}, {50.43, OverFrequency, true}, {50.41, 0, false}} {
		det, ok := feed(tc.f, 3*time.Second)
		if ok != tc.detect || (ok && (det.Method != tc.method || det.Delay() > s.DetectionTime(tc.method, tick))) {
			t.Errorf("%g Hz on a 50 Hz system: %v %v; want detected %v by %v", tc.f, det, ok, tc.detect, tc.method)
		}
	}
	bad := DefaultSettingsAt(55)
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "nominal frequency 55 Hz: accepted 50 or 60 Hz") {
		t.Errorf("55 Hz: %v", err)
	}
}
