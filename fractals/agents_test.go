package fractals

import (
	"math"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/auction"
	"github.com/fractals-energy/fractals/internal/solar"
	"github.com/fractals-energy/fractals/internal/units"
)

func TestPVForecastLearnsCloudiness(t *testing.T) {
	f := NewPVForecast(solar.DefaultPVConfig(), 40)
	day := time.Date(2028, 6, 20, 0, 0, 0, 0, time.UTC)
	// A morning at half the clear-sky output.
	for at := day.Add(8 * time.Hour); at.Before(day.Add(11 * time.Hour)); at = at.Add(time.Minute) {
		f.Observe(at, f.Array.ClearSkyAC(40, at)/2, time.Minute)
	}
	if math.Abs(f.Recent-0.5) > 0.01 {
		t.Fatalf("recent clear-sky index %.3f after three hours at half output, want 0.5", f.Recent)
	}
	if !(f.Slow > 0.5 && f.Slow < 0.8) {
		t.Fatalf("slow index %.3f, want between 0.5 and the prior 0.8", f.Slow)
	}
	fc := f.Forecast(day.Add(11*time.Hour), 96, 15*time.Minute)
	clear := float64(f.Array.ClearSkyAC(40, day.Add(11*time.Hour+7*time.Minute+30*time.Second)))
	if got := float64(fc[0]) / clear; math.Abs(got-0.5) > 0.05 {
		t.Fatalf("first period at %.2f of clear sky, want about the recent 0.5", got)
	}
	// A day ahead the forecast has relaxed to the slow index.
	next := float64(fc[92]) / float64(f.Array.ClearSkyAC(40, day.Add(34*time.Hour+7*time.Minute+30*time.Second)))
	if math.Abs(next-f.Slow) > 0.02 {
		t.Fatalf("a day ahead at %.3f of clear sky, want the slow index %.3f", next, f.Slow)
	}
	if fc[60] != 0 { // 02:00 the next night
		t.Fatalf("night forecast %v, want 0", fc[60])
	}
}

func TestLoadProfileRemembersTheEvening(t *testing.T) {
	l := NewLoadProfile(15 * time.Minute)
	day := time.Date(2028, 6, 20, 0, 0, 0, 0, time.UTC)
	for at := day; at.Before(day.Add(24 * time.Hour)); at = at.Add(time.Minute) {
		w := units.Watts(200)
		if at.Hour() >= 18 && at.Hour() < 22 {
			w = 1200
		}
		l.Observe(at, w, time.Minute)
	}
	fc := l.Forecast(day.Add(24*time.Hour+12*time.Hour), 48, 15*time.Minute, 300)
	if fc[0] != 300 || fc[1] != 200 || fc[30] != 1200 {
		t.Fatalf("forecast now %v, 12:15 %v, 19:30 %v, want 300 (what it draws), 200, 1200", fc[0], fc[1], fc[30])
	}
}

func TestAgentsFormAValidMarket(t *testing.T) {
	m := DefaultMarketConfig()
	m.Horizon = 6 * time.Hour
	cfg := DefaultConfig()
	s := withEV(snap(), 10000, 0, 7000, t0.Add(5*time.Hour))
	n := m.Periods()
	f := Forecasts{PV: make([]units.Watts, n), Critical: make([]units.Watts, n), Services: [2]units.Watts{20, 15}}
	for t := range f.PV {
		f.PV[t], f.Critical[t] = 3000, 300
	}
	for _, mode := range []Mode{Connected, Islanded} {
		agents := BuildAgents("u1", &m, &cfg, State{Mode: mode}, &s, f, t0)
		p := auction.Problem{Periods: n, PeriodHours: m.Interval.Hours(), Agents: agents}
		if err := p.Validate(); err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		hasGrid := false
		for _, a := range agents {
			hasGrid = hasGrid || a.Kind == auction.KindGrid
		}
		if hasGrid != (mode == Connected) {
			t.Fatalf("%v: grid agent present %v", mode, hasGrid)
		}
		sol, err := auction.Solve(p, auction.Central, auction.ADMMOptions{})
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		if sol.Schedules["u1/critical"][0] < 299 {
			t.Fatalf("%v: critical served %v W, want its 300 W", mode, sol.Schedules["u1/critical"][0])
		}
	}
}

func TestCostsFromConfiguration(t *testing.T) {
	m := DefaultMarketConfig()
	// 5000 over 6000 cycles × 0.9 × 10 kWh = 0.0926 per kWh delivered.
	if w := m.BatteryWear(10000); math.Abs(float64(w)-5000.0/54000) > 1e-12 {
		t.Fatalf("battery wear %v", w)
	}
	// 6000 over 25 years × 1300 kWh/kW × 5 kW = 0.0369 per kWh.
	if c := m.PVLCOE(); math.Abs(float64(c)-6000.0/162500) > 1e-12 {
		t.Fatalf("pv lcoe %v", c)
	}
	if m.ImportPriceAt(t0.Add(6*time.Hour)) != 0.40 || m.ImportPriceAt(t0.Add(-6*time.Hour)) != 0.20 {
		t.Fatalf("tariff at 18:00 %v, 06:00 %v", m.ImportPriceAt(t0.Add(6*time.Hour)), m.ImportPriceAt(t0.Add(-6*time.Hour)))
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	m.Interval = 4 * time.Minute
	if m.Validate() == nil {
		t.Fatal("a 4 min interval accepted")
	}
}
