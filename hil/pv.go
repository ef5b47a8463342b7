package hil

import (
	"time"

	"github.com/fractals-energy/fractals/internal/solar"
)

// The PV equations live in internal/solar so that the controller's forecasts use the same model as
// the plant; these names keep the rig's API as it was.
type (
	// PVConfig describes a PV array and its inverter with the parameters of NREL's PVWatts v5.
	PVConfig = solar.PVConfig
	// Sun is the sun's position: zenith and azimuth in degrees (azimuth clockwise from north).
	Sun = solar.Sun
	// ClearSky is the irradiance of a cloudless sky.
	ClearSky = solar.ClearSky
)

// The model's functions, re-exported for the rig and its tests.
var (
	DefaultPVConfig    = solar.DefaultPVConfig
	SunPosition        = solar.SunPosition
	ClearSkyIrradiance = solar.ClearSkyIrradiance
	CellTemperature    = solar.CellTemperature
	AmbientTemperature = solar.AmbientTemperature
)

// dayOfYear and secondOfDay split t (read as local solar time).
func dayOfYear(t time.Time) int { return t.YearDay() }

func secondOfDay(t time.Time) float64 { return solar.SecondOfDay(t) }
