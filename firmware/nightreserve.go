package firmware

import (
	"time"

	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/solar"
	"github.com/fractals-energy/fractals/internal/units"
)

// The night reserve's forecasts: the unit's own PV (the PVWatts model of its array, scaled by the sky
// it has seen) and its critical load's daily profile, learnt every cycle; every nightReservePeriod the
// reserve the critical load needs through the coming night is recomputed (fractals.NightReserve)
// and handed to the controller in its state.

// nightReservePeriod is how often the night reserve is recomputed, and its forecast's period.
const nightReservePeriod = 15 * time.Minute

// nightReserveHorizon reaches past the next sunrise from any time of day.
const nightReserveHorizon = 24 * time.Hour

// nightForecast is the unit's forecasts for its night reserve.
type nightForecast struct {
	pv       fractals.PVForecast
	critical fractals.LoadProfile
	lastObs  time.Time
	lastCalc time.Time
}

// EnableNightReserve has the unit forecast its PV (array at latitude) and its critical load and keep
// the night reserve for the critical load from them. Call before the first cycle.
func (u *Unit) EnableNightReserve(array solar.PVConfig, latitude float64) {
	u.night = &nightForecast{pv: fractals.NewPVForecast(array, latitude), critical: fractals.NewLoadProfile(nightReservePeriod)}
}

// observeForecasts learns from the cycle's snapshot and, when due, recomputes the night reserve.
func (u *Unit) observeForecasts(s *fractals.Snapshot) {
	n := u.night
	if n == nil {
		return
	}
	dt := time.Duration(0)
	if !n.lastObs.IsZero() {
		dt = s.At.Sub(n.lastObs)
	}
	n.lastObs = s.At
	crit := s.Loads[fractals.LoadCritical].Demand
	if dt > 0 && s.PVAvailable.Good() {
		n.pv.Observe(s.At, s.PVAvailable.Value, dt)
	}
	if dt > 0 && crit.Good() {
		n.critical.Observe(s.At, crit.Value, dt)
	}
	if !n.lastCalc.IsZero() && s.At.Sub(n.lastCalc) < nightReservePeriod || !crit.Good() {
		return
	}
	n.lastCalc = s.At
	periods := int(nightReserveHorizon / nightReservePeriod)
	pv := n.pv.Forecast(s.At, periods, nightReservePeriod)
	load := n.critical.Forecast(s.At, periods, nightReservePeriod, crit.Value)
	r := fractals.NightReserve(&u.cfg, pv, load, nightReservePeriod)
	u.mu.Lock()
	u.nightReserve = r
	u.mu.Unlock()
}

// NightReserve is the night reserve in force (0 until the first forecast).
func (u *Unit) NightReserve() units.Fraction {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.nightReserve
}
