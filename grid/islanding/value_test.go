package islanding

import (
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

func TestStepIsValueTyped(t *testing.T) {
	d0, err := NewDetector(DefaultSettingsAt(50))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := d0
	var ok bool
	for i := range 3 {
		d, _, ok, err = Step(d, Sample{At: t0.Add(time.Duration(i) * 100 * time.Millisecond), V: 1, F: 50, BreakerClosed: i == 0})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !ok {
		t.Fatal("breaker opened: no detection")
	}
	if _, _, ok0, _ := Step(d0, Sample{At: t0, V: 1, F: 50, BreakerClosed: true}); ok0 {
		t.Fatal("stepping a copy latched a detection in the original value")
	}
}

// A 20 ms tick with a 2 s window gives more samples than the history holds: the rate must still be
// measured over at least the window, so a steady 0.5 Hz/s ramp under a 1 Hz/s limit is no island and
// a 1.5 Hz/s ramp is found within the window plus the decimation spacing plus a tick.
func TestRoCoFWithMoreSamplesThanTheHistory(t *testing.T) {
	s := DefaultSettingsAt(50)
	s.RoCoFWindow, s.RoCoFLimit = 2*time.Second, 1
	s.UnderFrequency.Level, s.OverFrequency.Level = 47, 53
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const tick = 20 * time.Millisecond
	run := func(rate float64) (time.Duration, bool) {
		d, err := NewDetector(s)
		if err != nil {
			t.Fatal(err)
		}
		phase := 0.0
		for i := 0; i < 200; i++ {
			since := time.Duration(i) * tick
			f := 50 + rate*since.Seconds()
			phase += 360 * (f - 50) * tick.Seconds()
			var det Detection
			var ok bool
			d, det, ok, err = Step(d, Sample{At: t0.Add(since), V: 1, F: units.Hertz(f), PhaseDeg: phase, BreakerClosed: true})
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				if det.Method != RoCoF {
					t.Fatalf("rate %g Hz/s detected by %v, want RoCoF", rate, det.Method)
				}
				return since, true
			}
		}
		return 0, false
	}
	if at, ok := run(0.5); ok {
		t.Fatalf("0.5 Hz/s under a 1 Hz/s limit detected at %v", at)
	}
	at, ok := run(1.5)
	limit := s.RoCoFWindow + s.RoCoFWindow/(historyLen-2) + tick
	if !ok || at > limit {
		t.Fatalf("1.5 Hz/s detected=%v at %v, want within %v", ok, at, limit)
	}
}
