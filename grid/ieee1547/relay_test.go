package ieee1547

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

var categories = []Category{CategoryI, CategoryII, CategoryIII}

// excursion describes one trip function under test: which quantity it watches and in which direction.
type excursion struct {
	name    string
	setting TripSetting
	over    bool
	voltage bool
}

func excursions(s Settings) []excursion {
	v, f := s.Voltage, s.Frequency
	return []excursion{
		{"OV2", v.OV2, true, true}, {"OV1", v.OV1, true, true}, {"UV1", v.UV1, false, true}, {"UV2", v.UV2, false, true},
		{"OF2", f.OF2, true, false}, {"OF1", f.OF1, true, false}, {"UF1", f.UF1, false, false}, {"UF2", f.UF2, false, false},
	}
}

// runExcursion holds nominal conditions for a second, then the quantity at value for hold, and returns
// when (after the excursion began) the relay tripped and which function tripped.
func runExcursion(t *testing.T, s Settings, e excursion, value float64, hold time.Duration) (time.Duration, string, bool) {
	t.Helper()
	r, err := NewRelay(s)
	if err != nil {
		t.Fatal(err)
	}
	nominal := Sample{V: 1, F: units.Hertz(nominalOrDefault(s.Nominal))}
	for elapsed := time.Duration(0); elapsed < time.Second; elapsed += s.Tick {
		if d := r.Step(nominal, s.Tick); d.Trip {
			t.Fatalf("tripped at nominal conditions: %+v", d)
		}
	}
	m := nominal
	if e.voltage {
		m.V = units.PerUnit(value)
	} else {
		m.F = units.Hertz(value)
	}
	// the first sample beyond the level is at elapsed 0: the excursion starts at that tick
	for elapsed := time.Duration(0); elapsed <= hold; elapsed += s.Tick {
		if d := r.Step(m, s.Tick); d.Trip {
			return elapsed, d.Function, true
		}
	}
	return 0, "", false
}

// TestTripJustBeyondAndJustInside checks every trip function of every category with its default
// settings: an excursion just beyond the level trips that function within its clearing time ± one
// tick, and one just inside does not trip it. It runs at the shortest, default and longest tick. Both
// sides are checked against the first sample beyond the level: the clearing time is a maximum, so the
// trip comes no later than it (the excursion may have begun up to one tick earlier: that is the one
// tick of measurement allowed), and no earlier than one tick before it.
func TestTripJustBeyondAndJustInside(t *testing.T) {
	for _, cat := range categories {
		for _, tick := range []time.Duration{MinTick, DefaultTick, MaxTick} {
			s := DefaultSettings(cat)
			s.Tick = tick
			for _, e := range excursions(s) {
				step := 0.005 // p.u.
				if !e.voltage {
					step = 0.01 // Hz
				}
				beyond, inside := e.setting.Level+step, e.setting.Level-step
				if !e.over {
					beyond, inside = inside, beyond
				}
				at, fn, tripped := runExcursion(t, s, e, beyond, e.setting.Clearing+2*tick)
				if !tripped || fn != e.name || at < e.setting.Clearing-tick || at > e.setting.Clearing {
					t.Errorf("%v tick %v: %s at %g: tripped %v by %q after %v; want %s between %v and %v",
						cat, tick, e.name, beyond, tripped, fn, at, e.name, e.setting.Clearing-tick, e.setting.Clearing)
				}
				_, fn, _ = runExcursion(t, s, e, inside, e.setting.Clearing+2*time.Second)
				if fn == e.name {
					t.Errorf("%v tick %v: %s tripped at %g, just inside its level %g", cat, tick, e.name, inside, e.setting.Level)
				}
			}
		}
	}
}

func TestTripTimerResetsWhenTheExcursionClears(t *testing.T) {
	s := DefaultSettings(CategoryII)
	r, err := NewRelay(s)
	if err != nil {
		t.Fatal(err)
	}
	// UV1 (0.70 p.u., 10 s): 9 s below, 1 s back to normal, 9 s below again: no trip, as each dip is
	// shorter than the clearing time.
	for _, phase := range []struct {
		v   float64
		dur time.Duration
	}{{0.69, 9 * time.Second}, {1.0, time.Second}, {0.69, 9 * time.Second}} {
		for e := time.Duration(0); e < phase.dur; e += s.Tick {
			if d := r.Step(Sample{V: units.PerUnit(phase.v), F: 60}, s.Tick); d.Trip {
				t.Fatalf("tripped by %s during two separate 9 s dips", d.Function)
			}
		}
	}
	// a latched trip stays until Reset (OV2 clears in 0.16 s: the second 100 ms sample trips, as the
	// third would come 0.2 s after the first)
	for i := 0; i < 3; i++ {
		r.Step(Sample{V: 1.3, F: 60}, s.Tick)
	}
	if d := r.Step(Sample{V: 1, F: 60}, s.Tick); !d.Trip || d.Function != "OV2" || d.Energize {
		t.Fatalf("after OV2: %+v; want a latched OV2 trip", d)
	}
	r.Reset()
	if d := r.Step(Sample{V: 1, F: 60}, s.Tick); d.Trip || !d.Energize {
		t.Fatalf("after Reset: %+v", d)
	}
}

// step of a ride-through test sequence: a value held for a duration, and the mode the region demands.
type rtStep struct {
	value float64
	hold  time.Duration
	mode  Mode
}

// runRideThrough feeds the sequence at a 20 ms tick (so that 0.16 s steps are whole ticks) with the
// trip settings at their widest, and checks the relay never trips and reports the region's mode at
// every sample, energizing unless the region is momentary cessation.
func runRideThrough(t *testing.T, cat Category, voltage bool, seq []rtStep) {
	t.Helper()
	s := Settings{Category: cat, Voltage: WidestVoltageTrip(cat), Frequency: WidestFrequencyTrip(), Tick: MinTick}
	r, err := NewRelay(s)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Duration(0)
	for _, st := range seq {
		for e := time.Duration(0); e < st.hold; e += s.Tick {
			m := Sample{V: 1, F: NominalFrequency}
			mode := func(d Decision) Mode { return d.FrequencyMode }
			if voltage {
				m.V = units.PerUnit(st.value)
				mode = func(d Decision) Mode { return d.VoltageMode }
			} else {
				m.F = units.Hertz(st.value)
			}
			d := r.Step(m, s.Tick)
			if d.Trip || mode(d) != st.mode || d.Energize != (st.mode != MomentaryCessation) {
				t.Fatalf("%v at %v (%g for %v): %+v; want mode %v, no trip", cat, at, st.value, st.hold, d, st.mode)
			}
			at += s.Tick
		}
	}
}

// TestLowVoltageRideThrough follows the IEEE 1547.1 low-voltage ride-through sequences: each step sits
// on the edge of the ride-through curve (times count from the start of the disturbance).
func TestLowVoltageRideThrough(t *testing.T) {
	s := func(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }
	// category II, as in the issue: 0.30 for 0.16 s, 0.45 for 0.16 s, 0.65 for 2.68 s (to 3 s, where
	// the mandatory slope starts), 0.88 for 2 s (continuous operation), then 0.94.
	runRideThrough(t, CategoryII, true, []rtStep{
		{0.94, s(10), Continuous}, {0.30, s(0.16), Permissive}, {0.45, s(0.16), Permissive},
		{0.65, s(2.68), Mandatory}, {0.88, s(2), Continuous}, {0.94, s(1), Continuous},
	})
	// category I: 0.50 for 0.16 s (permissive), 0.70 to 0.7 s after the start (mandatory, 0.7 s at 0.7 p.u.).
	runRideThrough(t, CategoryI, true, []rtStep{
		{0.94, s(10), Continuous}, {0.50, s(0.16), Permissive}, {0.70, s(0.54), Mandatory}, {0.88, s(2), Continuous},
	})
	// category III: 0.0 for 1 s (momentary cessation), 0.50 to 10 s and 0.70 to 20 s (mandatory).
	runRideThrough(t, CategoryIII, true, []rtStep{
		{0.94, s(10), Continuous}, {0.0, s(1), MomentaryCessation}, {0.50, s(9), Mandatory}, {0.70, s(10), Mandatory},
		{0.88, s(2), Continuous},
	})
}

func TestHighVoltageRideThrough(t *testing.T) {
	s := func(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }
	for _, cat := range []Category{CategoryI, CategoryII} {
		runRideThrough(t, cat, true, []rtStep{
			{1.0, s(5), Continuous}, {1.20, s(0.2), Permissive}, {1.175, s(0.3), Permissive}, {1.15, s(0.5), Permissive},
			{1.10, s(5), Continuous},
		})
	}
	runRideThrough(t, CategoryIII, true, []rtStep{{1.0, s(5), Continuous}, {1.20, s(12), MomentaryCessation}, {1.10, s(5), Continuous}})
}

func TestFrequencyRideThrough(t *testing.T) {
	s := func(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }
	for _, cat := range categories {
		runRideThrough(t, cat, false, []rtStep{
			{60, s(5), Continuous}, {57.0, s(299), Mandatory}, {60, s(5), Continuous}, {61.8, s(299), Mandatory}, {58.8, s(5), Continuous},
		})
	}
}

func TestRideThroughEndsAfterItsMinimumTime(t *testing.T) {
	r, err := NewRelay(Settings{Category: CategoryII, Voltage: WidestVoltageTrip(CategoryII), Frequency: WidestFrequencyTrip(), Tick: DefaultTick})
	if err != nil {
		t.Fatal(err)
	}
	// 0.65 p.u. must be ridden through for 3 s; after that the standard asks nothing (trip allowed).
	var d Decision
	for e := time.Duration(0); e <= 3*time.Second; e += DefaultTick {
		if d = r.Step(Sample{V: 0.65, F: 60}, DefaultTick); d.VoltageMode != Mandatory {
			t.Fatalf("at %v: %v, want mandatory", e, d.VoltageMode)
		}
	}
	if d = r.Step(Sample{V: 0.65, F: 60}, DefaultTick); d.VoltageMode != NoRideThrough {
		t.Fatalf("after 3 s: %v, want no ride-through requirement", d.VoltageMode)
	}
	if m, min := VoltageRegion(CategoryII, 0.80); m != Mandatory || min.Round(time.Millisecond) != 4305*time.Millisecond {
		t.Errorf("category II at 0.80 p.u.: %v for %v, want mandatory for 3 + 8.7·0.15 = 4.305 s", m, min)
	}
	if m, _ := FrequencyRegion(56.9); m != NoRideThrough {
		t.Errorf("56.9 Hz: %v", m)
	}
}

func TestCeaseInPermissive(t *testing.T) {
	s := Settings{Category: CategoryII, Voltage: WidestVoltageTrip(CategoryII), Frequency: WidestFrequencyTrip(), Tick: DefaultTick, CeaseInPermissive: true}
	r, err := NewRelay(s)
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Step(Sample{V: 0.5, F: 60}, DefaultTick); d.Energize || d.Trip || d.VoltageMode != Permissive {
		t.Fatalf("permissive with CeaseInPermissive: %+v", d)
	}
	if d := r.Step(Sample{V: 0.7, F: 60}, DefaultTick); !d.Energize || d.VoltageMode != Mandatory {
		t.Fatalf("mandatory: %+v", d)
	}
}

func TestSettingsOutsideRangesAreRefused(t *testing.T) {
	mod := func(c Category, f func(*Settings)) Settings {
		s := DefaultSettings(c)
		f(&s)
		return s
	}
	for _, tc := range []struct {
		s    Settings
		want string
	}{
		{mod(CategoryII, func(s *Settings) { s.Voltage.UV1.Level = 0.9 }), "category II UV1 level 0.9 p.u. outside the allowed 0 to 0.88 p.u."},
		{mod(CategoryI, func(s *Settings) { s.Voltage.OV2.Clearing = 200 * time.Millisecond }), "category I OV2 clearing time 200ms outside the allowed 160ms to 160ms"},
		{mod(CategoryIII, func(s *Settings) { s.Voltage.UV1.Clearing = 10 * time.Second }), "category III UV1 clearing time 10s outside the allowed 21s to 50s"},
		{mod(CategoryII, func(s *Settings) { s.Voltage.UV2.Level = 0.8 }), "UV2 level 0.8"},
		{mod(CategoryII, func(s *Settings) { s.Voltage.UV2.Level, s.Voltage.UV1.Level = 0.5, 0.4 }), "out of order"},
		{mod(CategoryI, func(s *Settings) { s.Frequency.OF1.Clearing = 100 * time.Second }), "OF1 clearing time 1m40s outside the allowed 3m0s to 16m40s"},
		{mod(CategoryI, func(s *Settings) { s.Frequency.UF2.Level = 58 }), "UF2 level 58 Hz outside the allowed 50 to 57 Hz"},
		{mod(CategoryI, func(s *Settings) { s.Tick = 10 * time.Millisecond }), "protection tick 10ms outside the allowed 20ms to 1s"},
		{mod(CategoryI, func(s *Settings) { s.Category = 4 }), "category 4"},
	} {
		_, err := NewRelay(tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to contain %q", err, tc.want)
		}
	}
	for _, cat := range categories {
		if err := DefaultSettings(cat).Validate(); err != nil {
			t.Errorf("%v defaults: %v", cat, err)
		}
		widest := Settings{Category: cat, Voltage: WidestVoltageTrip(cat), Frequency: WidestFrequencyTrip(), Tick: MaxTick}
		if err := widest.Validate(); err != nil {
			t.Errorf("%v widest: %v", cat, err)
		}
	}
}

func ExampleRelay() {
	r, _ := NewRelay(DefaultSettings(CategoryII))
	for i := 0; i < 3; i++ {
		d := r.Step(Sample{V: 1.25, F: 60}, DefaultTick)
		fmt.Printf("tick %d: trip=%v function=%q\n", i+1, d.Trip, d.Function)
	}
	// Output:
	// tick 1: trip=false function=""
	// tick 2: trip=true function="OV2"
	// tick 3: trip=true function="OV2"
}

// TestMeasurementFailureCeasesToEnergize: a NaN or infinite voltage or frequency is a failed
// measurement. The relay flags it and tells the DER to cease to energize; it neither starts nor resets
// trip timers, and a running timer goes on counting, so interleaved failures cannot hold off a trip.
func TestMeasurementFailureCeasesToEnergize(t *testing.T) {
	s := DefaultSettings(CategoryII)
	nan := units.PerUnit(math.NaN())
	newRelay := func() *Relay {
		r, err := NewRelay(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// all failures, of either quantity: never energize, never trip
	for _, m := range []Sample{{V: nan, F: 60}, {V: 1, F: units.Hertz(math.NaN())}, {V: units.PerUnit(math.Inf(1)), F: 60}, {V: 1, F: units.Hertz(math.Inf(-1))}} {
		r := newRelay()
		for i := 0; i < 100; i++ {
			if d := r.Step(m, s.Tick); d.Energize || d.Trip || !d.MeasurementFailure {
				t.Fatalf("sample %+v, tick %d: %+v; want a flagged failure, no energizing, no trip", m, i, d)
			}
		}
		if d := r.Step(Sample{V: 1, F: 60}, s.Tick); !d.Energize || d.MeasurementFailure {
			t.Fatalf("valid sample after failures: %+v", d)
		}
	}
	// 1.3 p.u. alternating with NaN: OV2 (0.16 s) trips within its clearing time of the first 1.3 sample
	r := newRelay()
	tripped := time.Duration(-1)
	for e := time.Duration(0); e < 10*time.Second && tripped < 0; e += s.Tick {
		m := Sample{V: 1.3, F: 60}
		if (e/s.Tick)%2 == 1 {
			m.V = nan
		}
		if d := r.Step(m, s.Tick); d.Trip {
			if d.Function != "OV2" || d.Energize {
				t.Fatalf("at %v: %+v", e, d)
			}
			tripped = e
		}
	}
	if limit := s.Voltage.OV2.Clearing; tripped < 0 || tripped > limit {
		t.Errorf("1.3 p.u. with every other sample NaN tripped at %v; want OV2 by %v", tripped, limit)
	}
	// UV1 (0.70 p.u., 10 s): 5 s at 0.69, 4 s of NaN, then 0.69 again: the gap does not reset the timer
	r = newRelay()
	at := time.Duration(0)
	for _, phase := range []struct {
		v   units.PerUnit
		dur time.Duration
	}{{0.69, 5 * time.Second}, {nan, 4 * time.Second}, {0.69, 2 * time.Second}} {
		for e := time.Duration(0); e < phase.dur; e += s.Tick {
			if d := r.Step(Sample{V: phase.v, F: 60}, s.Tick); d.Trip {
				if d.Function != "UV1" || at < s.Voltage.UV1.Clearing-s.Tick || at > s.Voltage.UV1.Clearing {
					t.Fatalf("tripped by %s at %v; want UV1 at %v", d.Function, at, s.Voltage.UV1.Clearing)
				}
				return
			}
			at += s.Tick
		}
	}
	t.Errorf("UV1 did not trip after 11 s below its level with a 4 s measurement gap")
}

// TestNoCurrentInMomentaryCessationPastItsMinimumTime: category III below 0.50 p.u. is momentary
// cessation for 1 s; past that the DER may trip, but it must not resume injecting while the voltage is
// still in that region. With the default UV2 (0.50 p.u., 2 s) it stays ceased from 1 s until UV2 trips;
// with the widest settings it stays ceased for as long as the sag lasts, and energizes again once the
// voltage recovers. The same holds above 1.10 p.u. (momentary cessation for 12 s) and in the zones the
// voltage tables mark "cease to energize" (category II below 0.30 p.u., any category above 1.20 p.u.).
func TestNoCurrentInMomentaryCessationPastItsMinimumTime(t *testing.T) {
	hold := func(r *Relay, v units.PerUnit, dur, tick time.Duration, check func(at time.Duration, d Decision) bool) {
		t.Helper()
		for at := time.Duration(0); at < dur; at += tick {
			d := r.Step(Sample{V: v, F: 60}, tick)
			if !check(at, d) {
				t.Fatalf("%g p.u. at %v: %+v", float64(v), at, d)
			}
		}
	}
	def, err := NewRelay(DefaultSettings(CategoryIII))
	if err != nil {
		t.Fatal(err)
	}
	hold(def, 0.4, 3*time.Second, DefaultTick, func(at time.Duration, d Decision) bool {
		return !d.Energize && (d.Trip == (at >= 2*time.Second)) && (d.Trip || d.VoltageMode == MomentaryCessation || at > time.Second)
	})
	widest := func(c Category) *Relay {
		r, err := NewRelay(Settings{Category: c, Voltage: WidestVoltageTrip(c), Frequency: WidestFrequencyTrip(), Tick: DefaultTick})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := widest(CategoryIII)
	hold(r, 0.4, 5*time.Second, DefaultTick, func(at time.Duration, d Decision) bool {
		want := MomentaryCessation
		if at > time.Second {
			want = NoRideThrough
		}
		return !d.Energize && !d.Trip && d.VoltageMode == want
	})
	hold(r, 1.0, time.Second, DefaultTick, func(_ time.Duration, d Decision) bool { return d.Energize && d.VoltageMode == Continuous })
	hold(r, 1.15, 12500*time.Millisecond, DefaultTick, func(_ time.Duration, d Decision) bool { return !d.Energize && !d.Trip })
	r = widest(CategoryII)
	hold(r, 0.2, 1500*time.Millisecond, DefaultTick, func(_ time.Duration, d Decision) bool {
		return !d.Energize && !d.Trip && d.VoltageMode == NoRideThrough
	})
	hold(r, 1.0, time.Second, DefaultTick, func(_ time.Duration, d Decision) bool { return d.Energize })
	// beyond the frequency regions the standard sets no mode: the trip settings alone decide
	r = widest(CategoryII)
	for i := 0; i < 5; i++ {
		if d := r.Step(Sample{V: 1, F: 62.5}, DefaultTick); !d.Energize || d.FrequencyMode != NoRideThrough {
			t.Fatalf("62.5 Hz with the widest OF settings: %+v", d)
		}
	}
}

// TestFiftyHertzSystem: the FRACTALS plant runs at 50 Hz. Every frequency setting scales by 50/60 (OF2
// 62.0 Hz becomes 51.67 Hz), a 50 Hz relay stays energized at 50 Hz, each frequency trip function trips
// just beyond its scaled level within its clearing time and not just inside it, the ride-through regions
// scale, and 60 Hz settings are refused on a 50 Hz relay.
func TestFiftyHertzSystem(t *testing.T) {
	s := DefaultSettingsAt(CategoryII, Nominal50Hz)
	want := FrequencyTrip{OF2: TripSetting{62.0 * 5 / 6, sec(0.16)}, OF1: TripSetting{51.0, sec(300)}, UF1: TripSetting{48.75, sec(300)}, UF2: TripSetting{56.5 * 5 / 6, sec(0.16)}}
	for i, got := range []TripSetting{s.Frequency.OF2, s.Frequency.OF1, s.Frequency.UF1, s.Frequency.UF2} {
		w := []TripSetting{want.OF2, want.OF1, want.UF1, want.UF2}[i]
		if math.Abs(got.Level-w.Level) > 1e-12 || got.Clearing != w.Clearing {
			t.Errorf("%s at 50 Hz: %+v, want %+v", frequencyNames[i], got, w)
		}
	}
	r, err := NewRelay(s)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if d := r.Step(Sample{V: 1, F: 50}, s.Tick); d.Trip || !d.Energize || d.FrequencyMode != Continuous {
			t.Fatalf("50 Hz relay at 50 Hz, tick %d: %+v", i, d)
		}
	}
	for _, e := range excursions(s)[4:] {
		beyond, inside := e.setting.Level+0.01, e.setting.Level-0.01
		if !e.over {
			beyond, inside = inside, beyond
		}
		at, fn, tripped := runExcursion(t, s, e, beyond, e.setting.Clearing+2*s.Tick)
		if !tripped || fn != e.name || at < e.setting.Clearing-s.Tick || at > e.setting.Clearing {
			t.Errorf("50 Hz %s at %g: tripped %v by %q after %v", e.name, beyond, tripped, fn, at)
		}
		if _, fn, _ = runExcursion(t, s, e, inside, e.setting.Clearing+2*time.Second); fn == e.name {
			t.Errorf("50 Hz %s tripped at %g, inside its level", e.name, inside)
		}
	}
	// ride-through: 57.0 Hz at 60 is 47.5 Hz at 50, mandatory for 299 s
	if m, min := FrequencyRegionAt(Nominal50Hz, 47.5); m != Mandatory || min != sec(299) {
		t.Errorf("47.5 Hz on a 50 Hz system: %v for %v", m, min)
	}
	if m, _ := FrequencyRegionAt(Nominal50Hz, 47.4); m != NoRideThrough {
		t.Errorf("47.4 Hz on a 50 Hz system: %v", m)
	}
	wide, err := NewRelay(WidestSettingsAt(CategoryII, Nominal50Hz, DefaultTick))
	if err != nil {
		t.Fatal(err)
	}
	if d := wide.Step(Sample{V: 1, F: 48}, DefaultTick); d.FrequencyMode != Mandatory || !d.Energize {
		t.Errorf("48 Hz on a 50 Hz system: %+v", d)
	}
	// refusals: 60 Hz settings on a 50 Hz relay, and a nominal frequency that is neither
	bad := DefaultSettings(CategoryII)
	bad.Nominal = Nominal50Hz
	if _, err := NewRelay(bad); err == nil || !strings.Contains(err.Error(), "OF2 level 62 Hz outside the allowed 51.5 to 55 Hz") {
		t.Errorf("60 Hz settings at 50 Hz: %v", err)
	}
	bad = DefaultSettingsAt(CategoryII, 55)
	if _, err := NewRelay(bad); err == nil || !strings.Contains(err.Error(), "nominal frequency 55 Hz: accepted 50 or 60 Hz") {
		t.Errorf("55 Hz: %v", err)
	}
	// frequency droop and enter service
	fd := DefaultFrequencyDroopAt(CategoryII, Nominal50Hz)
	if err := fd.Validate(CategoryII); err != nil {
		t.Fatal(err)
	}
	if p, want := fd.Power(50.5, 0.5, 0, 1), 0.5-(50.5-50.03)/(50*0.05); math.Abs(p-want) > 1e-12 {
		t.Errorf("droop at 50.5 Hz: %g, want %g", p, want)
	}
	if p := fd.Power(50.02, 0.5, 0, 1); p != 0.5 {
		t.Errorf("droop inside the 0.03 Hz dead-band: %g", p)
	}
	es := DefaultEnterServiceAt(Nominal50Hz)
	if err := es.Validate(); err != nil || !es.Within(1, 50) || es.Within(1, 49.5) {
		t.Errorf("enter service at 50 Hz: %+v, %v", es, err)
	}
}

func TestStepIsValueTyped(t *testing.T) {
	r0, err := NewRelayValue(DefaultSettingsAt(CategoryII, Nominal50Hz))
	if err != nil {
		t.Fatal(err)
	}
	r := r0
	var d Decision
	// 0.40 p.u. is below UV2's 0.45 p.u.: it trips after UV2's clearing time (0.16 s).
	for range 5 {
		r, d = Step(r, Sample{V: 0.40, F: 50}, DefaultTick)
	}
	if !d.Trip || d.Function != "UV2" {
		t.Fatalf("decision after 0.5 s at 0.40 p.u. = %+v, want a UV2 trip", d)
	}
	if tripped, _ := r0.Tripped(); tripped {
		t.Fatal("stepping a copy tripped the original relay value")
	}
	if _, d0 := Step(r0, Sample{V: 1, F: 50}, DefaultTick); d0.Trip || !d0.Energize {
		t.Fatalf("the original relay at nominal: %+v, want energizing", d0)
	}
}
