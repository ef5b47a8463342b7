package ieee1547

import (
	"fmt"
	"math"
	"time"
)

// Category is an abnormal-performance category of IEEE 1547-2018 (clause 6.4): how hard the DER rides
// through voltage and frequency disturbances.
type Category int

// Abnormal-performance categories.
const (
	CategoryI   Category = 1
	CategoryII  Category = 2
	CategoryIII Category = 3
)

func (c Category) String() string {
	switch c {
	case CategoryI:
		return "category I"
	case CategoryII:
		return "category II"
	case CategoryIII:
		return "category III"
	}
	return fmt.Sprintf("category %d", int(c))
}

func (c Category) valid() error {
	if c < CategoryI || c > CategoryIII {
		return fmt.Errorf("ieee1547: abnormal-performance category %d: accepted 1 (I), 2 (II), 3 (III)", int(c))
	}
	return nil
}

// NominalFrequency is the system frequency the tables of IEEE 1547-2018 are written for, and the default
// of every function here. For a 50 Hz system every frequency setting, range and region boundary is the
// 60 Hz value scaled by 50/60 (OF2 62.0 Hz becomes 51.67 Hz): use the constructors that take a nominal
// frequency (DefaultSettingsAt, DefaultFrequencyTripAt, ...) or set the Nominal fields.
const NominalFrequency = 60.0

// Nominal system frequencies accepted.
const (
	Nominal60Hz = 60.0
	Nominal50Hz = 50.0
)

// nominalOrDefault reads a Nominal field: 0 means 60 Hz.
func nominalOrDefault(n float64) float64 {
	if n == 0 {
		return NominalFrequency
	}
	return n
}

// checkNominal refuses a nominal frequency other than 50 or 60 Hz (0 standing for 60).
func checkNominal(n float64) error {
	if n != 0 && n != Nominal50Hz && n != Nominal60Hz {
		return fmt.Errorf("ieee1547: nominal frequency %g Hz: accepted 50 or 60 Hz", n)
	}
	return nil
}

// scaleHz converts a frequency of the standard's 60 Hz tables to the given nominal frequency.
func scaleHz(f, nominal float64) float64 {
	nominal = nominalOrDefault(nominal)
	if nominal == NominalFrequency {
		return f
	}
	return f * nominal / NominalFrequency
}

// Protection tick: how often the trip functions are stepped.
const (
	DefaultTick = 100 * time.Millisecond
	MinTick     = 20 * time.Millisecond
	MaxTick     = time.Second
)

// CheckTick refuses a protection tick outside 20 ms to 1 s.
func CheckTick(d time.Duration) error {
	if d < MinTick || d > MaxTick {
		return fmt.Errorf("ieee1547: protection tick %v outside the allowed %v to %v", d, MinTick, MaxTick)
	}
	return nil
}

// TripSetting is one trip function: the level beyond which it times, and the clearing time after which
// the DER must have ceased to energize and tripped.
type TripSetting struct {
	Level    float64 // p.u. of nominal voltage, or Hz
	Clearing time.Duration
}

// Allowed is the range the standard allows for one trip function.
type Allowed struct {
	LevelMin, LevelMax       float64
	ClearingMin, ClearingMax time.Duration
}

func (a Allowed) check(name string, s TripSetting, unit string) error {
	if !(s.Level >= a.LevelMin && s.Level <= a.LevelMax) {
		return fmt.Errorf("ieee1547: %s level %g %s outside the allowed %g to %g %s", name, s.Level, unit, a.LevelMin, a.LevelMax, unit)
	}
	if s.Clearing < a.ClearingMin || s.Clearing > a.ClearingMax {
		return fmt.Errorf("ieee1547: %s clearing time %v outside the allowed %v to %v", name, s.Clearing, a.ClearingMin, a.ClearingMax)
	}
	return nil
}

// VoltageTrip holds the four voltage trip functions. Over-voltage functions time while V > Level,
// under-voltage functions while V < Level.
type VoltageTrip struct {
	OV2, OV1, UV1, UV2 TripSetting
}

// FrequencyTrip holds the four frequency trip functions. Over-frequency functions time while f > Level,
// under-frequency functions while f < Level.
type FrequencyTrip struct {
	OF2, OF1, UF1, UF2 TripSetting
}

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

type tripRow struct {
	def     TripSetting
	allowed Allowed
}

func row(level, clearing, lmin, lmax, tmin, tmax float64) tripRow {
	return tripRow{TripSetting{level, sec(clearing)}, Allowed{lmin, lmax, sec(tmin), sec(tmax)}}
}

// voltageTripTable is IEEE 1547-2018 Tables 11 (category I), 12 (II) and 13 (III): default level and
// clearing time, then the allowed ranges, for OV2, OV1, UV1, UV2.
var voltageTripTable = map[Category][4]tripRow{
	CategoryI: {
		row(1.20, 0.16, 1.20, 1.20, 0.16, 0.16),
		row(1.10, 2.0, 1.10, 1.20, 1.0, 13.0),
		row(0.70, 2.0, 0.0, 0.88, 2.0, 21.0),
		row(0.45, 0.16, 0.0, 0.50, 0.16, 2.0),
	},
	CategoryII: {
		row(1.20, 0.16, 1.20, 1.20, 0.16, 0.16),
		row(1.10, 2.0, 1.10, 1.20, 1.0, 13.0),
		row(0.70, 10.0, 0.0, 0.88, 2.0, 21.0),
		row(0.45, 0.16, 0.0, 0.50, 0.16, 2.0),
	},
	CategoryIII: {
		row(1.20, 0.16, 1.20, 1.20, 0.16, 0.16),
		row(1.10, 13.0, 1.10, 1.20, 1.0, 13.0),
		row(0.88, 21.0, 0.0, 0.88, 21.0, 50.0),
		row(0.50, 2.0, 0.0, 0.50, 2.0, 21.0),
	},
}

// frequencyTripTable is IEEE 1547-2018 Table 19, the same for all three categories: OF2, OF1, UF1, UF2.
var frequencyTripTable = [4]tripRow{
	row(62.0, 0.16, 61.8, 66.0, 0.16, 1000),
	row(61.2, 300, 61.0, 66.0, 180, 1000),
	row(58.5, 300, 50.0, 59.0, 180, 1000),
	row(56.5, 0.16, 50.0, 57.0, 0.16, 1000),
}

// DefaultVoltageTrip returns the default voltage trip settings of the category.
func DefaultVoltageTrip(c Category) VoltageTrip {
	t := voltageTripTable[c]
	return VoltageTrip{OV2: t[0].def, OV1: t[1].def, UV1: t[2].def, UV2: t[3].def}
}

// VoltageTripRanges returns the allowed ranges of the category, for OV2, OV1, UV1, UV2.
func VoltageTripRanges(c Category) [4]Allowed {
	t := voltageTripTable[c]
	return [4]Allowed{t[0].allowed, t[1].allowed, t[2].allowed, t[3].allowed}
}

// WidestVoltageTrip returns the least sensitive settings the category allows (lowest under-voltage and
// highest over-voltage levels, longest clearing times), the settings IEEE 1547.1 uses in ride-through
// tests so that trip functions do not mask the ride-through behaviour.
func WidestVoltageTrip(c Category) VoltageTrip {
	r := VoltageTripRanges(c)
	return VoltageTrip{
		OV2: TripSetting{r[0].LevelMax, r[0].ClearingMax},
		OV1: TripSetting{r[1].LevelMax, r[1].ClearingMax},
		UV1: TripSetting{r[2].LevelMin, r[2].ClearingMax},
		UV2: TripSetting{r[3].LevelMin, r[3].ClearingMax},
	}
}

// Validate refuses settings outside the category's allowed ranges, and levels out of order.
func (v VoltageTrip) Validate(c Category) error {
	if err := c.valid(); err != nil {
		return err
	}
	r := VoltageTripRanges(c)
	for i, s := range []TripSetting{v.OV2, v.OV1, v.UV1, v.UV2} {
		if err := r[i].check(c.String()+" "+voltageNames[i], s, "p.u."); err != nil {
			return err
		}
	}
	if v.OV1.Level > v.OV2.Level || v.UV2.Level > v.UV1.Level {
		return fmt.Errorf("ieee1547: voltage trip levels out of order: want UV2 ≤ UV1 and OV1 ≤ OV2")
	}
	return nil
}

var voltageNames = [4]string{"OV2", "OV1", "UV1", "UV2"}
var frequencyNames = [4]string{"OF2", "OF1", "UF1", "UF2"}

// DefaultFrequencyTrip returns the default frequency trip settings of a 60 Hz system (the same for
// every category).
func DefaultFrequencyTrip() FrequencyTrip { return DefaultFrequencyTripAt(NominalFrequency) }

// DefaultFrequencyTripAt returns the default frequency trip settings for a nominal frequency of 50 or
// 60 Hz: Table 19's levels scaled by nominal/60.
func DefaultFrequencyTripAt(nominal float64) FrequencyTrip {
	t := frequencyTripTable
	at := func(r tripRow) TripSetting { return TripSetting{scaleHz(r.def.Level, nominal), r.def.Clearing} }
	return FrequencyTrip{OF2: at(t[0]), OF1: at(t[1]), UF1: at(t[2]), UF2: at(t[3])}
}

// FrequencyTripRanges returns the allowed ranges for OF2, OF1, UF1, UF2 on a 60 Hz system.
func FrequencyTripRanges() [4]Allowed { return FrequencyTripRangesAt(NominalFrequency) }

// FrequencyTripRangesAt returns the allowed ranges for a nominal frequency of 50 or 60 Hz.
func FrequencyTripRangesAt(nominal float64) [4]Allowed {
	var out [4]Allowed
	for i, r := range frequencyTripTable {
		a := r.allowed
		a.LevelMin, a.LevelMax = scaleHz(a.LevelMin, nominal), scaleHz(a.LevelMax, nominal)
		out[i] = a
	}
	return out
}

// WidestFrequencyTrip returns the least sensitive frequency trip settings allowed on a 60 Hz system.
func WidestFrequencyTrip() FrequencyTrip { return WidestFrequencyTripAt(NominalFrequency) }

// WidestFrequencyTripAt returns the least sensitive frequency trip settings at the nominal frequency.
func WidestFrequencyTripAt(nominal float64) FrequencyTrip {
	r := FrequencyTripRangesAt(nominal)
	return FrequencyTrip{
		OF2: TripSetting{r[0].LevelMax, r[0].ClearingMax},
		OF1: TripSetting{r[1].LevelMax, r[1].ClearingMax},
		UF1: TripSetting{r[2].LevelMin, r[2].ClearingMax},
		UF2: TripSetting{r[3].LevelMin, r[3].ClearingMax},
	}
}

// Validate refuses settings outside the allowed ranges of a 60 Hz system, and levels out of order.
func (f FrequencyTrip) Validate() error { return f.ValidateAt(NominalFrequency) }

// ValidateAt refuses settings outside the allowed ranges at the nominal frequency (50 or 60 Hz).
func (f FrequencyTrip) ValidateAt(nominal float64) error {
	if err := checkNominal(nominal); err != nil {
		return err
	}
	r := FrequencyTripRangesAt(nominal)
	for i, s := range []TripSetting{f.OF2, f.OF1, f.UF1, f.UF2} {
		if err := r[i].check(frequencyNames[i], s, "Hz"); err != nil {
			return err
		}
	}
	if f.OF1.Level > f.OF2.Level || f.UF2.Level > f.UF1.Level {
		return fmt.Errorf("ieee1547: frequency trip levels out of order: want UF2 ≤ UF1 and OF1 ≤ OF2")
	}
	return nil
}

// tripTimer is one trip function in operation. It starts timing at the first sample beyond its level,
// adds each tick while the condition holds, and resets when it clears. The clearing time is a maximum
// (IEEE 1547-2018: the DER shall trip no later than it), so the timer trips at the last sample that
// comes no later than the clearing time after the first sample beyond the level: when the next sample,
// one tick on, would be too late. It thus trips between one tick before and exactly at the clearing
// time counted from the first sample beyond; counted from the onset of the excursion, which may lie
// up to one tick before that sample, it trips no later than the clearing time plus that one tick of
// measurement. A tick longer than the clearing time trips on the first sample beyond.
//
// A non-finite sample (a failed measurement) tells nothing about the level: it neither starts nor resets
// the timer, and a timer already running goes on counting, since an excursion in progress is presumed to
// last until a valid sample shows it has cleared. So a meter dropping samples cannot hold off a trip.
type tripTimer struct {
	name    string
	setting TripSetting
	over    bool // true: beyond means above the level
	timing  bool
	elapsed time.Duration
}

func (t *tripTimer) step(x float64, dt time.Duration) bool {
	if !finite(x) {
		if t.timing {
			t.elapsed += dt
		}
		return t.timing && t.due(dt)
	}
	beyond := x < t.setting.Level
	if t.over {
		beyond = x > t.setting.Level
	}
	if !beyond {
		t.timing, t.elapsed = false, 0
		return false
	}
	if t.timing {
		t.elapsed += dt
	}
	t.timing = true
	return t.due(dt)
}

// due reports whether the timer must trip now: the clearing time has come, or the next sample (dt on)
// would come after it.
func (t *tripTimer) due(dt time.Duration) bool {
	return t.elapsed >= t.setting.Clearing || t.elapsed+dt > t.setting.Clearing
}

// finite reports whether a measurement is a number: NaN and infinities come only from a failed meter or
// a broken link, never from the network.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
