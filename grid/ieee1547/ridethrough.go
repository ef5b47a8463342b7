package ieee1547

import (
	"fmt"
	"math"
	"time"
)

// Mode is the operating mode a ride-through region demands of the DER.
type Mode int

// Operating modes, from the most to the least demanding.
const (
	// Continuous operation: normal operation, exchanging current as usual.
	Continuous Mode = iota
	// Mandatory operation: keep exchanging current (ride through).
	Mandatory
	// Permissive operation: ride through, either exchanging current or ceasing to energize; the DER
	// must not trip.
	Permissive
	// MomentaryCessation: cease to energize without tripping, and restore output when the voltage
	// returns.
	MomentaryCessation
	// NoRideThrough: outside the regions (or past their minimum time) the standard asks nothing: the DER
	// may trip, and its trip settings decide whether it does.
	NoRideThrough
)

func (m Mode) String() string {
	switch m {
	case Continuous:
		return "continuous"
	case Mandatory:
		return "mandatory"
	case Permissive:
		return "permissive"
	case MomentaryCessation:
		return "momentary cessation"
	case NoRideThrough:
		return "no ride-through requirement"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// region is one row of a ride-through table: the mode it demands for values in it and the minimum time
// the DER must ride through (from the start of the disturbance). Above nominal a region covers
// (lo, hi], below nominal [lo, hi).
type region struct {
	lo, hi  float64
	mode    Mode
	minimum func(x float64) time.Duration
}

func fixed(s float64) func(float64) time.Duration {
	return func(float64) time.Duration { return sec(s) }
}

// sloped is a mandatory region whose minimum time grows linearly with the voltage: t0 at v0 plus slope
// seconds per p.u. above it (IEEE 1547-2018 Tables 14 and 15).
func sloped(t0, v0, slope float64) func(float64) time.Duration {
	return func(v float64) time.Duration { return sec(t0 + slope*(v-v0)) }
}

// rideThroughTable lists the continuous band and the regions above and below it.
type rideThroughTable struct {
	contLo, contHi float64 // continuous operation for contLo ≤ x ≤ contHi
	above          []region
	below          []region
	// ceaseOutside: beyond the outermost regions the table says "cease to energize" (the voltage tables,
	// above 1.20 p.u. and below the lowest region); the frequency table says nothing there.
	ceaseOutside bool
}

// voltageRideThrough is IEEE 1547-2018 Tables 14 (category I), 15 (II) and 16 (III).
var voltageRideThrough = map[Category]rideThroughTable{
	CategoryI: {contLo: 0.88, contHi: 1.10, ceaseOutside: true,
		above: []region{
			{1.175, 1.20, Permissive, fixed(0.2)},
			{1.15, 1.175, Permissive, fixed(0.5)},
			{1.10, 1.15, Permissive, fixed(1)},
		},
		below: []region{
			{0.70, 0.88, Mandatory, sloped(0.7, 0.7, 4)},
			{0.50, 0.70, Permissive, fixed(0.16)},
		},
	},
	CategoryII: {contLo: 0.88, contHi: 1.10, ceaseOutside: true,
		above: []region{
			{1.175, 1.20, Permissive, fixed(0.2)},
			{1.15, 1.175, Permissive, fixed(0.5)},
			{1.10, 1.15, Permissive, fixed(1)},
		},
		below: []region{
			{0.65, 0.88, Mandatory, sloped(3, 0.65, 8.7)},
			{0.45, 0.65, Permissive, fixed(0.32)},
			{0.30, 0.45, Permissive, fixed(0.16)},
		},
	},
	CategoryIII: {contLo: 0.88, contHi: 1.10, ceaseOutside: true,
		above: []region{
			{1.10, 1.20, MomentaryCessation, fixed(12)},
		},
		below: []region{
			{0.70, 0.88, Mandatory, fixed(20)},
			{0.50, 0.70, Mandatory, fixed(10)},
			{0, 0.50, MomentaryCessation, fixed(1)},
		},
	},
}

// frequencyRideThrough is IEEE 1547-2018 Table 21 (the same for all categories).
var frequencyRideThrough = rideThroughTable{contLo: 58.8, contHi: 61.2,
	above: []region{{61.2, 61.8, Mandatory, fixed(299)}},
	below: []region{{57.0, 58.8, Mandatory, fixed(299)}},
}

// RoCoFRideThrough is the rate of change of frequency each category must ride through (IEEE 1547-2018
// clause 6.5.2.5), Hz/s.
func RoCoFRideThrough(c Category) float64 {
	return map[Category]float64{CategoryI: 0.5, CategoryII: 2.0, CategoryIII: 3.0}[c]
}

// classify returns the region x falls in, or nil in the continuous band; ok is false outside every
// region (no ride-through requirement).
func (t rideThroughTable) classify(x float64) (r *region, ok bool) {
	switch {
	case math.IsNaN(x):
		return nil, false
	case x >= t.contLo && x <= t.contHi:
		return nil, true
	case x > t.contHi:
		for i := range t.above {
			if x > t.above[i].lo && x <= t.above[i].hi {
				return &t.above[i], true
			}
		}
	default:
		for i := range t.below {
			if x >= t.below[i].lo && x < t.below[i].hi {
				return &t.below[i], true
			}
		}
	}
	return nil, false
}

// VoltageRegion returns the mode the category demands at voltage v (p.u.) and the minimum time it must
// ride through there (0 in continuous operation, which has no limit, and where nothing is required).
func VoltageRegion(c Category, v float64) (Mode, time.Duration) {
	return regionOf(voltageRideThrough[c], v)
}

// FrequencyRegion returns the mode demanded at frequency f (Hz, 60 Hz system) and its minimum
// ride-through time.
func FrequencyRegion(f float64) (Mode, time.Duration) {
	return regionOf(frequencyRideThrough, f)
}

// FrequencyRegionAt is FrequencyRegion on a system of the given nominal frequency (50 or 60 Hz).
func FrequencyRegionAt(nominal, f float64) (Mode, time.Duration) {
	return regionOf(frequencyRideThroughAt(nominal), f)
}

// frequencyRideThroughAt scales Table 21's boundaries to the nominal frequency.
func frequencyRideThroughAt(nominal float64) rideThroughTable {
	t := frequencyRideThrough
	t.contLo, t.contHi = scaleHz(t.contLo, nominal), scaleHz(t.contHi, nominal)
	scale := func(rs []region) []region {
		out := make([]region, len(rs))
		for i, r := range rs {
			r.lo, r.hi = scaleHz(r.lo, nominal), scaleHz(r.hi, nominal)
			out[i] = r
		}
		return out
	}
	t.above, t.below = scale(t.above), scale(t.below)
	return t
}

func regionOf(t rideThroughTable, x float64) (Mode, time.Duration) {
	r, ok := t.classify(x)
	switch {
	case !ok:
		return NoRideThrough, 0
	case r == nil:
		return Continuous, 0
	}
	return r.mode, r.minimum(x)
}

// rideThrough follows one quantity through a disturbance: the disturbance starts at the first sample
// outside continuous operation and ends when the quantity is back in it. At each sample the demanded
// mode is the region's, as long as the time since the disturbance started has not passed the region's
// minimum ride-through time; after that nothing is demanded (the DER may trip).
//
// Separately from the mode, cease says the DER must not exchange current at this sample whatever the
// time: the quantity lies in a momentary-cessation region (past its minimum time the DER may trip, but
// it must not resume injecting there) or in a "cease to energize" zone beyond the table's regions.
//
// A non-finite sample (failed measurement) changes no region: a disturbance in progress goes on timing
// and the last mode is repeated.
type rideThrough struct {
	table     rideThroughTable
	disturbed bool
	elapsed   time.Duration
	last      Mode
	cease     bool
}

func (rt *rideThrough) step(x float64, dt time.Duration) Mode {
	if !finite(x) {
		if rt.disturbed {
			rt.elapsed += dt
		}
		return rt.last
	}
	r, ok := rt.table.classify(x)
	rt.cease = (ok && r != nil && r.mode == MomentaryCessation) || (!ok && rt.table.ceaseOutside)
	rt.last = rt.classifyStep(r, ok, x, dt)
	return rt.last
}

func (rt *rideThrough) classifyStep(r *region, ok bool, x float64, dt time.Duration) Mode {
	if ok && r == nil {
		rt.disturbed, rt.elapsed = false, 0
		return Continuous
	}
	if rt.disturbed {
		rt.elapsed += dt
	}
	rt.disturbed = true
	if !ok || rt.elapsed > r.minimum(x) {
		return NoRideThrough
	}
	return r.mode
}
