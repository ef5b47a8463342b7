package islanding

import (
	"fmt"
	"math"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// Method is a way of detecting an island.
type Method int

// Detection methods.
const (
	UnderVoltage Method = iota
	OverVoltage
	UnderFrequency
	OverFrequency
	RoCoF
	VectorShift
	BreakerOpen
)

var methodNames = [...]string{"under-voltage", "over-voltage", "under-frequency", "over-frequency", "rate of change of frequency", "vector shift", "PCC breaker open"}

func (m Method) String() string {
	if m >= 0 && int(m) < len(methodNames) {
		return methodNames[m]
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// Sample is one measurement at the point of common coupling.
type Sample struct {
	At time.Time
	V  units.PerUnit
	F  units.Hertz
	// PhaseDeg is the voltage phase angle against a reference rotating at the nominal frequency, as a
	// phase-locked loop reports it, in degrees.
	PhaseDeg float64
	// BreakerClosed is the PCC breaker's auxiliary contact (or a transfer-trip signal): false means the
	// utility is disconnected.
	BreakerClosed bool
}

// Threshold is a level and the time the measurement must stay beyond it.
type Threshold struct {
	Level float64
	Delay time.Duration
}

// Settings configure a Detector.
type Settings struct {
	Nominal                       units.Hertz
	UnderVoltage, OverVoltage     Threshold // p.u.
	UnderFrequency, OverFrequency Threshold // Hz
	// RoCoFLimit (Hz/s) is exceeded when the frequency change over RoCoFWindow is faster than it.
	RoCoFLimit  float64
	RoCoFWindow time.Duration
	// VectorShiftDeg is the phase jump between two samples (beyond what the frequency explains) that
	// marks a sudden change of the load the unit sees.
	VectorShiftDeg float64
	// BreakerDelay debounces the breaker contact: it must read open this long (0: the first sample).
	BreakerDelay time.Duration
}

// MaxDetectionTime is the longest any method may take: IEEE 1547-2018 clause 8.1 requires an
// unintentional island to be detected, and the DER to cease to energize it, within 2 s.
const MaxDetectionTime = 2 * time.Second

// DefaultSettings returns settings for a 60 Hz category II unit; DefaultSettingsAt gives them for a
// 50 Hz system. A detection opens the PCC (see the package documentation): these thresholds fire inside
// category II ride-through regions on purpose, and must not be used to make a DER cease to energize. The RoCoF limit (2.5 Hz/s) lies above the 2 Hz/s category II units must ride through,
// so a grid event does not look like an island.
func DefaultSettings() Settings { return DefaultSettingsAt(60) }

// DefaultSettingsAt returns the default settings for a nominal frequency of 50 or 60 Hz: the frequency
// levels are the 60 Hz ones scaled by nominal/60 (59.3 and 60.5 Hz become 49.42 and 50.42 Hz), and the
// RoCoF limit scales with them (2.5 Hz/s at 60 Hz is 2.08 Hz/s at 50 Hz, the same per-unit rate).
func DefaultSettingsAt(nominal units.Hertz) Settings {
	k := float64(nominal) / 60
	return Settings{
		Nominal:        nominal,
		UnderVoltage:   Threshold{0.88, 500 * time.Millisecond},
		OverVoltage:    Threshold{1.10, 500 * time.Millisecond},
		UnderFrequency: Threshold{59.3 * k, 500 * time.Millisecond},
		OverFrequency:  Threshold{60.5 * k, 500 * time.Millisecond},
		RoCoFLimit:     2.5 * k,
		RoCoFWindow:    200 * time.Millisecond,
		VectorShiftDeg: 10,
		BreakerDelay:   0,
	}
}

// Validate refuses settings outside their ranges.
func (s Settings) Validate() error {
	n := float64(s.Nominal)
	if n != 50 && n != 60 {
		return fmt.Errorf("islanding: nominal frequency %g Hz: accepted 50 or 60 Hz", n)
	}
	checks := []struct {
		name      string
		x, lo, hi float64
	}{
		{"nominal frequency", n, 50, 60},
		{"under-voltage level", s.UnderVoltage.Level, 0.5, 0.95},
		{"over-voltage level", s.OverVoltage.Level, 1.05, 1.2},
		{"under-frequency level", s.UnderFrequency.Level, n - 3, n - 0.1},
		{"over-frequency level", s.OverFrequency.Level, n + 0.1, n + 3},
		{"RoCoF limit (Hz/s)", s.RoCoFLimit, 0.1, 10},
		{"vector shift (degrees)", s.VectorShiftDeg, 2, 30},
	}
	for _, c := range checks {
		if math.IsNaN(c.x) || c.x < c.lo || c.x > c.hi {
			return fmt.Errorf("islanding: %s %g outside the allowed %g to %g", c.name, c.x, c.lo, c.hi)
		}
	}
	for _, d := range []struct {
		name string
		d    time.Duration
		lo   time.Duration
	}{
		{"under-voltage delay", s.UnderVoltage.Delay, 0},
		{"over-voltage delay", s.OverVoltage.Delay, 0},
		{"under-frequency delay", s.UnderFrequency.Delay, 0},
		{"over-frequency delay", s.OverFrequency.Delay, 0},
		{"RoCoF window", s.RoCoFWindow, 20 * time.Millisecond},
		{"breaker delay", s.BreakerDelay, 0},
	} {
		if d.d < d.lo || d.d > MaxDetectionTime {
			return fmt.Errorf("islanding: %s %v outside the allowed %v to %v", d.name, d.d, d.lo, MaxDetectionTime)
		}
	}
	return nil
}

// DetectionTime is the longest a method takes from the onset of its condition to detection, given
// samples every tick: its delay (or window) plus one tick, since the condition may begin just after a
// sample. A vector shift is seen on the first sample after the jump.
func (s Settings) DetectionTime(m Method, tick time.Duration) time.Duration {
	switch m {
	case UnderVoltage:
		return s.UnderVoltage.Delay + tick
	case OverVoltage:
		return s.OverVoltage.Delay + tick
	case UnderFrequency:
		return s.UnderFrequency.Delay + tick
	case OverFrequency:
		return s.OverFrequency.Delay + tick
	case RoCoF:
		return s.RoCoFWindow + tick
	case VectorShift:
		return tick
	case BreakerOpen:
		return s.BreakerDelay + tick
	}
	return 0
}

// Detection says how an island was found. The action it calls for is opening the PCC breaker; the DERs
// go on energizing the island as their own IEEE 1547 relays allow.
type Detection struct {
	Method Method
	Onset  time.Time // when the condition was first seen
	At     time.Time // when it was confirmed
}

// Delay is the time from onset to detection.
func (d Detection) Delay() time.Duration { return d.At.Sub(d.Onset) }

func (d Detection) String() string {
	return fmt.Sprintf("island detected by %v after %v", d.Method, d.Delay())
}

// Detector watches samples for an island. Once it detects one it stays latched until Reset.
//
// A Detector is a value: it holds no pointers or slices, so copying it copies its whole state, and
// Step (the function) returns the next detector without touching the one it was given.
type Detector struct {
	s        Settings
	onset    [5]time.Time // per threshold method (and breaker), zero when the condition is absent
	history  rocofHistory // frequencies inside the RoCoF window
	prev     Sample
	hasPrev  bool
	detected Detection
	found    bool
}

// New builds a detector after checking its settings.
func New(s Settings) (*Detector, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &Detector{s: s}, nil
}

// Step takes the next sample. It returns the detection once an island is found (and on every later
// call until Reset). Samples must come in time order; one that does not is refused and changes nothing.
func (d *Detector) Step(m Sample) (Detection, bool, error) {
	if d.hasPrev && !m.At.After(d.prev.At) {
		return Detection{}, false, fmt.Errorf("islanding: sample at %v is not after the previous one at %v", m.At, d.prev.At)
	}
	if math.IsNaN(float64(m.V)) || math.IsNaN(float64(m.F)) || math.IsNaN(m.PhaseDeg) {
		return Detection{}, false, fmt.Errorf("islanding: sample at %v has a NaN measurement", m.At)
	}
	if !d.found {
		d.check(m)
	}
	d.prev, d.hasPrev = m, true
	if d.found {
		return d.detected, true, nil
	}
	return Detection{}, false, nil
}

// Reset forgets a detection (after the unit has reconnected) and all timers.
func (d *Detector) Reset() {
	*d = Detector{s: d.s}
}

func (d *Detector) check(m Sample) {
	v, f := float64(m.V), float64(m.F)
	thresholds := []struct {
		method Method
		beyond bool
		delay  time.Duration
	}{
		{BreakerOpen, !m.BreakerClosed, d.s.BreakerDelay},
		{UnderVoltage, v < d.s.UnderVoltage.Level, d.s.UnderVoltage.Delay},
		{OverVoltage, v > d.s.OverVoltage.Level, d.s.OverVoltage.Delay},
		{UnderFrequency, f < d.s.UnderFrequency.Level, d.s.UnderFrequency.Delay},
		{OverFrequency, f > d.s.OverFrequency.Level, d.s.OverFrequency.Delay},
	}
	for i, th := range thresholds {
		if !th.beyond {
			d.onset[i] = time.Time{}
			continue
		}
		if d.onset[i].IsZero() {
			d.onset[i] = m.At
		}
		if m.At.Sub(d.onset[i]) >= th.delay {
			d.detect(th.method, d.onset[i], m.At)
			return
		}
	}
	if !d.vectorShift(m) {
		d.rocof(m)
	}
}

func (d *Detector) detect(method Method, onset, at time.Time) {
	if !d.found {
		d.detected, d.found = Detection{Method: method, Onset: onset, At: at}, true
	}
}

// vectorShift compares the phase advance since the previous sample with what the frequency explains.
func (d *Detector) vectorShift(m Sample) bool {
	if !d.hasPrev {
		return false
	}
	dt := m.At.Sub(d.prev.At).Seconds()
	expected := 360 * (float64(d.prev.F) - float64(d.s.Nominal)) * dt
	shift := math.Remainder(m.PhaseDeg-d.prev.PhaseDeg-expected, 360)
	if math.Abs(shift) > d.s.VectorShiftDeg {
		d.detect(VectorShift, d.prev.At, m.At)
		return true
	}
	return false
}

// rocof measures the frequency change over the window ending at m.
func (d *Detector) rocof(m Sample) {
	oldest, ok := d.history.push(m.At, float64(m.F), d.s.RoCoFWindow)
	if !ok {
		return
	}
	span := m.At.Sub(oldest.at)
	if span < d.s.RoCoFWindow {
		return
	}
	if rate := (float64(m.F) - oldest.f) / span.Seconds(); math.Abs(rate) > d.s.RoCoFLimit {
		d.detect(RoCoF, oldest.at, m.At)
	}
}
