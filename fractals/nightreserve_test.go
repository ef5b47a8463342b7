package fractals

import (
	"math"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// The night reserve is the critical energy the PV will not cover until the morning, above SoCMin:
// counted from now at night, from the evening in daylight; the afternoon's surplus does not count.
func TestNightReserveFromTheForecast(t *testing.T) {
	cfg := DefaultConfig()
	const period = time.Hour
	var pv, crit []units.Watts
	for h := 0; h < 24; h++ { // from noon: 6 h of sun, 12 h of night, sun again
		sun := h < 6 || h >= 18
		p := units.Watts(0)
		if sun {
			p = 2000
		}
		pv, crit = append(pv, p), append(crit, 200)
	}
	want := 0.05 + 12*200/0.95/10000
	if got := NightReserve(&cfg, pv, crit, period); math.Abs(float64(got)-want) > 1e-9 {
		t.Errorf("from noon: %v, want %v (12 h × 200 W)", got, want)
	}
	// Four hours into the night: eight hours left.
	want = 0.05 + 8*200/0.95/10000
	if got := NightReserve(&cfg, pv[10:], crit[10:], period); math.Abs(float64(got)-want) > 1e-9 {
		t.Errorf("at 22:00: %v, want %v (8 h left)", got, want)
	}
	// A load the battery cannot carry: never above SoCMax.
	for i := range crit {
		crit[i] = 5000
	}
	if got := NightReserve(&cfg, pv, crit, period); got != cfg.SoCMax {
		t.Errorf("a night beyond the battery: %v, want SoCMax", got)
	}
}

// Islanded at 26 % state of charge, the services run down to the configured floor (12.5 %) without a
// night reserve; with the forecast's reserve of 30 % the services are off and the battery is kept
// for the critical load.
func TestNightReserveKeepsTheBatteryForCriticalLoads(t *testing.T) {
	cfg := DefaultConfig()
	s := snap()
	s.GridPresent, s.PCCClosed = good(false, s.At), good(false, s.At)
	s.SoC = good[units.Fraction](0.26, s.At)
	st, _, _ := run(t, cfg, State{}, s, 0, time.Second)
	if st.Island.Phase != PhaseIslanded {
		t.Fatalf("boot in an outage: %v", st.Island.Phase)
	}
	_, without, _ := run(t, cfg, st, s, 2*time.Second)
	st.NightReserve = 0.30
	next, with, _ := run(t, cfg, st, s, 2*time.Second)
	if !without.LoadOn[LoadWiFi] || without.ServiceStep == ServiceWiFiOff {
		t.Errorf("no night reserve: the services should run at 26 %%: %+v", without)
	}
	if !with.LoadOn[LoadCritical] || with.LoadOn[LoadWiFi] || with.LoadOn[LoadStorage] || next.Services != ServiceWiFiOff {
		t.Errorf("night reserve 30 %%: only the critical load may draw the battery: %+v, step %v", with, next.Services)
	}
}
