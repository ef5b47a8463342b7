package fractals

import (
	"math"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// NightReserve is the state of charge that carries the critical load through the coming night
// islanded: from now (or, in daylight, from the evening on) until the forecast PV covers the critical
// load again, the energy the critical load needs beyond what the PV gives, drawn through the
// battery's discharge efficiency, above SoCMin. pv and critical are the mean powers of consecutive
// periods from now; the horizon should reach past the next sunrise. Islanded, the unit's services
// may draw the battery only down to it (reserve.go); it never exceeds SoCMax.
func NightReserve(cfg *Config, pv, critical []units.Watts, period time.Duration) units.Fraction {
	n := min(len(pv), len(critical))
	i := 0
	for i < n && pv[i] >= critical[i] {
		i++ // daylight: the night starts when the PV no longer covers the critical load
	}
	var need units.WattHours
	for ; i < n && pv[i] < critical[i]; i++ {
		need += (critical[i] - pv[i]).Over(period)
	}
	if cfg.BatteryCapacity <= 0 || cfg.DischargeEff <= 0 {
		return cfg.SoCMin
	}
	soc := float64(cfg.SoCMin) + float64(need)/float64(cfg.DischargeEff)/float64(cfg.BatteryCapacity)
	return units.Fraction(math.Min(float64(cfg.SoCMax), soc))
}

// servicesFloor is the state of charge below which, islanded, only critical loads may draw the
// battery: the configured floor, raised to the night reserve the shell computed from the forecasts.
func (p *plan) servicesFloor() units.Fraction {
	return max(p.cfg.ServicesFloor, min(p.prev.NightReserve, p.cfg.SoCMax))
}

// reserveTop is where, islanded, the service degradation begins: the configured reserve, raised with
// the services floor so that the band of degradation steps keeps its width.
func (p *plan) reserveTop() units.Fraction {
	floor := p.servicesFloor()
	return min(p.cfg.SoCMax, max(p.cfg.Reserve, floor+(p.cfg.Reserve-p.cfg.ServicesFloor)))
}
