package solar

import (
	"math"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// PVConfig describes a PV array and its inverter with the parameters of NREL's PVWatts v5.
type PVConfig struct {
	DCRating     units.Watts // array nameplate DC power at STC (P_dc0)
	DCACRatio    float64     // DC/AC ratio; AC rating = DCRating / DCACRatio
	TempCoeff    float64     // γ, per °C (PVWatts "standard" module: -0.0047)
	SystemLosses float64     // fraction lost in soiling, wiring, mismatch, … (PVWatts default 0.14)
	InverterEff  float64     // nominal inverter efficiency η_nom (PVWatts default 0.96)
	TiltDeg      float64     // array tilt from horizontal
	AzimuthDeg   float64     // array azimuth, 180 = facing south
	Albedo       float64     // ground reflectance
}

// DefaultPVConfig is a 5 kWp rooftop array facing the equator at 30° tilt with PVWatts' defaults.
func DefaultPVConfig() PVConfig {
	return PVConfig{DCRating: 5000, DCACRatio: 1.2, TempCoeff: -0.0047, SystemLosses: 0.14,
		InverterEff: 0.96, TiltDeg: 30, AzimuthDeg: 180, Albedo: 0.2}
}

// ACRating is the inverter's AC nameplate power, where PVWatts clips.
func (c PVConfig) ACRating() units.Watts { return units.Watts(float64(c.DCRating) / c.DCACRatio) }

// PVWattsRefEff is η_ref of the PVWatts v5 inverter model: the peak of its efficiency curve.
const PVWattsRefEff = 0.9637

// DCPower is the PVWatts v5 DC output for plane-of-array irradiance poa and cell temperature,
// after system losses: P_dc = (POA/1000)·P_dc0·(1 + γ(T_cell − 25))·(1 − losses).
func (c PVConfig) DCPower(poa units.WattsPerSquareMetre, cell units.Celsius) units.Watts {
	if poa <= 0 {
		return 0
	}
	p := float64(poa) / 1000 * float64(c.DCRating) * (1 + c.TempCoeff*(float64(cell)-25))
	return units.Watts(math.Max(0, p*(1-c.SystemLosses)))
}

// ACPower applies the PVWatts v5 inverter model: with ζ = P_dc/P_dc0,inv (P_dc0,inv = P_ac0/η_nom),
// η = η_nom/η_ref·(−0.0162ζ − 0.0059/ζ + 0.9858), and the output is clipped at the AC rating.
func (c PVConfig) ACPower(dc units.Watts) units.Watts {
	if dc <= 0 {
		return 0
	}
	acRated := float64(c.ACRating())
	dcRated := acRated / c.InverterEff
	zeta := float64(dc) / dcRated
	eff := c.InverterEff / PVWattsRefEff * (-0.0162*zeta - 0.0059/zeta + 0.9858)
	return units.Watts(math.Max(0, math.Min(eff*float64(dc), acRated)))
}

// Sun is the sun's position: zenith and azimuth in degrees (azimuth clockwise from north).
type Sun struct{ ZenithDeg, AzimuthDeg float64 }

// SunPosition uses Cooper's declination and the hour angle of local solar time: accurate to well
// under a degree, which is all a simulated plant needs. secondOfDay is local solar time.
func SunPosition(latitudeDeg float64, dayOfYear int, secondOfDay float64) Sun {
	lat := latitudeDeg * math.Pi / 180
	decl := 23.45 * math.Pi / 180 * math.Sin(2*math.Pi*float64(284+dayOfYear)/365)
	hour := (secondOfDay/3600 - 12) * 15 * math.Pi / 180
	cosZ := math.Sin(lat)*math.Sin(decl) + math.Cos(lat)*math.Cos(decl)*math.Cos(hour)
	cosZ = math.Max(-1, math.Min(1, cosZ))
	zen := math.Acos(cosZ)
	// Azimuth from north, clockwise; morning (hour < 0) is east of the meridian.
	sinZ := math.Sin(zen)
	az := math.Pi
	if sinZ > 1e-9 {
		cosAz := (math.Sin(decl) - math.Sin(lat)*cosZ) / (math.Cos(lat) * sinZ)
		az = math.Acos(math.Max(-1, math.Min(1, cosAz)))
		if hour > 0 {
			az = 2*math.Pi - az
		}
	}
	return Sun{ZenithDeg: zen * 180 / math.Pi, AzimuthDeg: az * 180 / math.Pi}
}

// ClearSky is the irradiance of a cloudless sky.
type ClearSky struct{ DNI, DHI, GHI units.WattsPerSquareMetre }

// ClearSkyIrradiance uses Meinel's air-mass model for beam irradiance (DNI = 1353·0.7^(AM^0.678),
// AM from Kasten–Young) and takes diffuse as 10 % of beam, a common clear-sky rule.
func ClearSkyIrradiance(sun Sun) ClearSky {
	if sun.ZenithDeg >= 90 {
		return ClearSky{}
	}
	z := sun.ZenithDeg
	am := 1 / (math.Cos(z*math.Pi/180) + 0.50572*math.Pow(96.07995-z, -1.6364))
	dni := 1353 * math.Pow(0.7, math.Pow(am, 0.678))
	dhi := 0.1 * dni
	ghi := dni*math.Cos(z*math.Pi/180) + dhi
	return ClearSky{DNI: units.WattsPerSquareMetre(dni), DHI: units.WattsPerSquareMetre(dhi), GHI: units.WattsPerSquareMetre(ghi)}
}

// PlaneOfArray transposes irradiance to the array with the isotropic-sky model.
func (c PVConfig) PlaneOfArray(sun Sun, sky ClearSky) units.WattsPerSquareMetre {
	if sky.GHI <= 0 {
		return 0
	}
	tilt := c.TiltDeg * math.Pi / 180
	z := sun.ZenithDeg * math.Pi / 180
	cosAOI := math.Cos(z)*math.Cos(tilt) + math.Sin(z)*math.Sin(tilt)*math.Cos((sun.AzimuthDeg-c.AzimuthDeg)*math.Pi/180)
	beam := float64(sky.DNI) * math.Max(0, cosAOI)
	diffuse := float64(sky.DHI) * (1 + math.Cos(tilt)) / 2
	ground := float64(sky.GHI) * c.Albedo * (1 - math.Cos(tilt)) / 2
	return units.WattsPerSquareMetre(beam + diffuse + ground)
}

// CellTemperature is the Sandia (King 2004) model for an open-rack glass/cell/polymer module:
// T_module = E·exp(a + b·wind) + T_ambient, T_cell = T_module + E/1000·ΔT.
func CellTemperature(poa units.WattsPerSquareMetre, ambient units.Celsius, windMS float64) units.Celsius {
	const a, b, dT = -3.56, -0.075, 3.0
	e := float64(poa)
	module := e*math.Exp(a+b*windMS) + float64(ambient)
	return units.Celsius(module + e/1000*dT)
}

// AmbientTemperature is a daily sinusoid around a seasonal mean: coldest at 04:00, warmest at 16:00.
func AmbientTemperature(latitudeDeg float64, dayOfYear int, secondOfDay float64) units.Celsius {
	season := math.Cos(2 * math.Pi * float64(dayOfYear-200) / 365) // +1 mid-July, −1 mid-January
	if latitudeDeg < 0 {
		season = -season
	}
	mean := 14 + 9*season*math.Min(1, math.Abs(latitudeDeg)/45)
	swing := 5.0
	return units.Celsius(mean + swing*math.Sin(2*math.Pi*(secondOfDay/86400-10.0/24)))
}

// dayOfYear and secondOfDay split t (read as local solar time).

// SecondOfDay is t's time of day in seconds, read as local solar time.
func SecondOfDay(t time.Time) float64 {
	h, m, s := t.Clock()
	return float64(h*3600+m*60+s) + float64(t.Nanosecond())/1e9
}

// ClearSkyAC is the PVWatts AC output of array c at time t under a clear sky at latitude.
func (c PVConfig) ClearSkyAC(latitudeDeg float64, t time.Time) units.Watts {
	sod, doy := SecondOfDay(t), t.YearDay()
	sun := SunPosition(latitudeDeg, doy, sod)
	poa := c.PlaneOfArray(sun, ClearSkyIrradiance(sun))
	cell := CellTemperature(poa, AmbientTemperature(latitudeDeg, doy, sod), 1)
	return c.ACPower(c.DCPower(poa, cell))
}
