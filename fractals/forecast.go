package fractals

import (
	"math"
	"time"

	"github.com/fractals-energy/fractals/internal/solar"
	"github.com/fractals-energy/fractals/internal/units"
)

// PVForecast predicts the unit's PV output from the PVWatts model of its own array under a clear sky,
// scaled by a cloudiness learnt from its own recent production: the ratio of what the array made to
// what the model says a clear sky would have given. Near term the recent ratio holds; further ahead it
// relaxes towards the slow average, because the weather of the next quarter hour is the weather of
// the last one, but tomorrow's is only the season's.
type PVForecast struct {
	Array    solar.PVConfig
	Latitude float64
	// Recent and Slow are the learnt clear-sky indices (output ÷ clear-sky model), 0..1.
	Recent, Slow float64
	// RecentHalfLife and SlowHalfLife set how fast each index follows observations; Persistence is
	// the horizon over which the forecast moves from Recent to Slow.
	RecentHalfLife, SlowHalfLife, Persistence time.Duration
}

// NewPVForecast starts with no history: a sky assumed clear enough (index 0.8) until the unit has seen
// its own production.
func NewPVForecast(array solar.PVConfig, latitude float64) PVForecast {
	return PVForecast{Array: array, Latitude: latitude, Recent: 0.8, Slow: 0.8,
		RecentHalfLife: 30 * time.Minute, SlowHalfLife: 3 * 24 * time.Hour, Persistence: 3 * time.Hour}
}

// minClearSkyShare is the share of the AC rating below which an observation teaches nothing: at dawn
// and dusk the model's small numbers make the ratio noise.
const minClearSkyShare = 0.1

// Observe learns from the PV power available (not curtailed output: a curtailed array says nothing of
// the sky) at t, averaged over dt.
func (f *PVForecast) Observe(t time.Time, available units.Watts, dt time.Duration) {
	clear := f.Array.ClearSkyAC(f.Latitude, t)
	if float64(clear) < minClearSkyShare*float64(f.Array.ACRating()) || dt <= 0 || math.IsNaN(float64(available)) {
		return
	}
	index := math.Max(0, math.Min(1, float64(available)/float64(clear)))
	f.Recent = follow(f.Recent, index, dt, f.RecentHalfLife)
	f.Slow = follow(f.Slow, index, dt, f.SlowHalfLife)
}

// follow moves an exponential average towards x by the weight of dt against its half-life.
func follow(avg, x float64, dt, halfLife time.Duration) float64 {
	w := 1 - math.Exp2(-dt.Seconds()/halfLife.Seconds())
	return avg + w*(x-avg)
}

// Forecast is the mean PV power of each period starting at from.
func (f *PVForecast) Forecast(from time.Time, periods int, period time.Duration) []units.Watts {
	out := make([]units.Watts, periods)
	const samples = 4 // per period, enough for the smooth clear-sky curve
	for t := range out {
		start := from.Add(time.Duration(t) * period)
		ahead := start.Sub(from) + period/2
		relax := math.Exp(-ahead.Seconds() / f.Persistence.Seconds())
		index := f.Slow + (f.Recent-f.Slow)*relax
		var sum float64
		for k := range samples {
			at := start.Add(period * time.Duration(2*k+1) / (2 * samples))
			sum += float64(f.Array.ClearSkyAC(f.Latitude, at))
		}
		out[t] = units.Watts(index * sum / samples)
	}
	return out
}

// LoadProfile forecasts a load from its recent daily profile: one exponential average per slot of the
// day, so the evening peak of the last days predicts tonight's.
type LoadProfile struct {
	Slot     time.Duration
	HalfLife time.Duration // in days of observations of the same slot
	Mean     []float64     // W per slot
	Seen     []bool
}

// NewLoadProfile keeps one value per slot of the day (slot must divide 24 h).
func NewLoadProfile(slot time.Duration) LoadProfile {
	n := int(24 * time.Hour / slot)
	return LoadProfile{Slot: slot, HalfLife: 2 * 24 * time.Hour, Mean: make([]float64, n), Seen: make([]bool, n)}
}

func (l *LoadProfile) slot(t time.Time) int {
	sod := time.Duration(solar.SecondOfDay(t) * float64(time.Second))
	return int(sod/l.Slot) % len(l.Mean)
}

// Observe learns demand w at t, held for dt.
func (l *LoadProfile) Observe(t time.Time, w units.Watts, dt time.Duration) {
	if len(l.Mean) == 0 || dt <= 0 || math.IsNaN(float64(w)) || math.IsInf(float64(w), 0) {
		return
	}
	k := l.slot(t)
	if !l.Seen[k] {
		l.Mean[k], l.Seen[k] = float64(w), true
		return
	}
	// A slot is seen for Slot each day, so its time constant is in days of that slot.
	days := dt.Seconds() / l.Slot.Seconds() * float64(24*time.Hour)
	l.Mean[k] = follow(l.Mean[k], float64(w), time.Duration(days), l.HalfLife)
}

// Forecast is the expected demand of each period from `from`. A slot never seen takes the mean of the
// slots seen, and last, the current demand now.
func (l *LoadProfile) Forecast(from time.Time, periods int, period time.Duration, now units.Watts) []units.Watts {
	fallback, n := 0.0, 0
	for k, seen := range l.Seen {
		if seen {
			fallback += l.Mean[k]
			n++
		}
	}
	if n > 0 {
		fallback /= float64(n)
	} else {
		fallback = float64(now)
	}
	out := make([]units.Watts, periods)
	for t := range out {
		at := from.Add(time.Duration(t)*period + period/2)
		if len(l.Mean) > 0 && l.Seen[l.slot(at)] {
			out[t] = units.Watts(l.Mean[l.slot(at)])
		} else {
			out[t] = units.Watts(fallback)
		}
	}
	if periods > 0 {
		out[0] = now // the binding period: what the load draws right now is the best guess
	}
	return out
}
