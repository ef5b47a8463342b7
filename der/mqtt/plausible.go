package mqtt

import (
	"fmt"

	"github.com/fractals-energy/fractals/der"
)

// pointBand is the physically plausible range of one point and whether it may be a boolean.
type pointBand struct {
	min, max float64
	unit     string
	boolean  bool // true/false/on/off are readings of this point, not garbage
}

var (
	wattsBand   = pointBand{-der.MaxPlausibleWatts, der.MaxPlausibleWatts, "W", false}
	ratingBand  = pointBand{0, der.MaxPlausibleWatts, "W", false}
	energyBand  = pointBand{0, der.MaxPlausibleWattHours, "Wh", false}
	booleanBand = pointBand{0, 1, "", true}
)

// pointBands holds every point's band; a point not listed is a plain finite number.
var pointBands = map[string]pointBand{
	PVPower: wattsBand, PVAvailable: wattsBand, PVRated: ratingBand,
	BatteryPower: wattsBand, BatteryMaxCharge: ratingBand, BatteryMaxDischg: ratingBand,
	BatterySoC:      {0, 100, "%", false},
	BatteryCapacity: energyBand,
	MeterPower:      wattsBand,
	MeterVoltage:    {0, der.MaxPlausibleVolts, "V", false},
	MeterFrequency:  {0, der.MaxPlausibleHertz, "Hz", false},
	MeterPresent:    booleanBand,
	ACOutPower:      wattsBand,
	ESSMode:         {0, 255, "", false},
	EVConnected:     booleanBand,
	EVPower:         wattsBand, EVMaxPower: ratingBand,
	EVDelivered: energyBand, EVNeeded: energyBand,
	EVDeadline: {0, 1 << 34, "s", false},
	LoadPower:  wattsBand, LoadDemand: wattsBand,
}

// plausible checks a decoded (and scaled) reading of point; the error wraps der.ErrImplausible.
func plausible(point string, v float64, isBool bool) error {
	band, ok := pointBands[point]
	if !ok {
		band = pointBand{min: -1e300, max: 1e300}
	}
	if isBool && !band.boolean {
		return fmt.Errorf("%s: a boolean where a number belongs: %w", point, der.ErrImplausible)
	}
	return der.CheckRange(point, v, band.min, band.max, band.unit)
}
