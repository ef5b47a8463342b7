package hil

import (
	"math"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/solar"
	"github.com/fractals-energy/fractals/internal/units"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// The PVWatts v5 inverter curve peaks at η_nom at about 40 % load and clips at the AC rating.
func TestPVWattsInverterCurve(t *testing.T) {
	c := DefaultPVConfig()
	acRated := float64(c.ACRating())
	dcRated := acRated / c.InverterEff
	// At ζ = sqrt(0.0059/0.0162) ≈ 0.603 the curve is at its maximum, η_nom·(0.9858−2·sqrt(0.0162·0.0059))/η_ref.
	zeta := math.Sqrt(0.0059 / 0.0162)
	peak := c.InverterEff / solar.PVWattsRefEff * (0.9858 - 2*math.Sqrt(0.0162*0.0059))
	got := float64(c.ACPower(units.Watts(zeta*dcRated))) / (zeta * dcRated)
	if !near(got, peak, 1e-12) || !near(peak, c.InverterEff, 3e-3) {
		t.Fatalf("peak efficiency %.6f, want %.6f ≈ η_nom %.2f", got, peak, c.InverterEff)
	}
	if ac := c.ACPower(units.Watts(2 * dcRated)); float64(ac) != acRated {
		t.Fatalf("at 200 %% DC input the output is %v, want clipped at %v", ac, acRated)
	}
	if c.ACPower(0) != 0 || c.ACPower(-5) != 0 {
		t.Fatal("no DC must give no AC")
	}
	// Light load is less efficient than the peak.
	if light := float64(c.ACPower(units.Watts(0.05*dcRated))) / (0.05 * dcRated); light >= peak {
		t.Fatalf("5 %% load efficiency %.4f not below the peak %.4f", light, peak)
	}
}

func TestPVWattsDCPower(t *testing.T) {
	c := DefaultPVConfig()
	// At STC the array gives its rating less system losses.
	if got, want := float64(c.DCPower(1000, 25)), 5000*(1-0.14); !near(got, want, 1e-9) {
		t.Fatalf("STC DC power %v, want %v", got, want)
	}
	// 20 °C hotter loses 20 × 0.47 % = 9.4 %.
	if got, want := float64(c.DCPower(1000, 45)), 5000*(1-0.14)*(1-0.094); !near(got, want, 1e-9) {
		t.Fatalf("45 °C DC power %v, want %v", got, want)
	}
	if c.DCPower(0, 25) != 0 || c.DCPower(-10, 25) != 0 {
		t.Fatal("no light must give no power")
	}
}

func TestSunPosition(t *testing.T) {
	// Near an equinox (day 80, declination ≈ 0) the noon zenith equals the latitude.
	noon := SunPosition(40, 80, 12*3600)
	if !near(noon.ZenithDeg, 40, 0.5) || !near(noon.AzimuthDeg, 180, 1e-6) {
		t.Fatalf("equinox noon at 40°N: %+v", noon)
	}
	// At the June solstice the noon zenith is 40 − 23.45.
	if z := SunPosition(40, 172, 12*3600).ZenithDeg; !near(z, 40-23.45, 0.1) {
		t.Fatalf("solstice noon zenith %.2f", z)
	}
	morning, evening := SunPosition(40, 172, 9*3600), SunPosition(40, 172, 15*3600)
	if morning.AzimuthDeg >= 180 || evening.AzimuthDeg <= 180 || !near(morning.ZenithDeg, evening.ZenithDeg, 1e-9) {
		t.Fatalf("morning %+v and evening %+v not symmetric about noon", morning, evening)
	}
	if SunPosition(40, 172, 0).ZenithDeg < 90 {
		t.Fatal("the sun is up at midnight at 40°N")
	}
}

// dayEnergy integrates clear-sky PV AC energy over one day at 1-minute resolution.
func dayEnergy(c PVConfig, lat float64, day int) units.WattHours {
	var e units.WattHours
	for m := 0; m < 1440; m++ {
		sod := float64(m*60 + 30)
		sun := SunPosition(lat, day, sod)
		poa := c.PlaneOfArray(sun, ClearSkyIrradiance(sun))
		cell := CellTemperature(poa, AmbientTemperature(lat, day, sod), 1)
		e += c.ACPower(c.DCPower(poa, cell)).Over(time.Minute)
	}
	return e
}

func TestClearSkySeasons(t *testing.T) {
	c := DefaultPVConfig()
	summer, winter := dayEnergy(c, 40, 172), dayEnergy(c, 40, 355)
	// A 5 kWp array at 40°N makes roughly 5–6 kWh/kWp on a clear June day, 2.5–4.5 in December.
	if summer < 25000 || summer > 35000 || winter < 12000 || winter > 22000 || winter >= summer {
		t.Fatalf("clear-day energy summer %v, winter %v", summer, winter)
	}
	// In the southern hemisphere the seasons swap (with the array facing north).
	south := c
	south.AzimuthDeg = 0
	if dayEnergy(south, -40, 172) >= dayEnergy(south, -40, 355) {
		t.Fatal("southern June day not darker than southern December day")
	}
}

func TestCloudsAreSeededAndBounded(t *testing.T) {
	a, b, other := newClouds(3), newClouds(3), newClouds(4)
	differ := false
	for s := 0.0; s < 2*86400; s += 17 {
		ka, kb, ko := a.index(s), b.index(s), other.index(s)
		if ka != kb {
			t.Fatalf("same seed, different sky at %v s", s)
		}
		if ka <= 0.1 || ka > 1 {
			t.Fatalf("clear-sky index %v out of (0.1, 1]", ka)
		}
		differ = differ || ka != ko
	}
	if !differ {
		t.Fatal("different seeds gave the same sky")
	}
}
