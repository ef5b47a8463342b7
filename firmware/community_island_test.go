package firmware

import (
	"testing"
	"time"
)

// islandedDay is a summer day of three units with no utility (`fractals sim --market --grid off`):
// hourly intervals over a 12-hour horizon, the EV home from the start until 16:00.
func islandedDay(t *testing.T) CommunityResult {
	return communityRunFor(t, 24*time.Hour, func(o *CommunityOptions) {
		o.Method = MethodConsensus
		o.Sim.Grid = false
		o.Sim.Step = 10 * time.Second
		o.Sim.EVArriveHour, o.Sim.EVDepartHour = 20, 16
		o.Market.Interval, o.Market.Horizon = time.Hour, 12*time.Hour
		o.RecordIntervals = true
	})
}

// TestIslandedCommunityDay: with no grid agent the community clears every hour among its own units;
// the price rises with scarcity (night and evening above the sunny hours), the EVs charge in the
// sunny hours of their own accord, and the critical loads are all served.
func TestIslandedCommunityDay(t *testing.T) {
	r := islandedDay(t)
	m := r.Market
	if m.Intervals != 24 || m.Cleared != 24 || m.TradeMismatches != 0 {
		t.Fatalf("market %+v: want all 24 hours cleared, both sides of every trade agreeing", m)
	}
	if r.Energy.GridImport != 0 || r.Energy.GridExport != 0 {
		t.Fatalf("islanded, yet the grid carried %.0f / %.0f Wh", r.Energy.GridImport, r.Energy.GridExport)
	}
	var peakPV float64
	for _, iv := range r.Intervals {
		peakPV = max(peakPV, iv.PVWh)
	}
	var sunnyEV, ev, sunnyPrice, darkPrice float64
	var sunny, dark int
	for _, iv := range r.Intervals {
		ev += iv.EVWh
		switch {
		case iv.PVWh >= peakPV/4:
			sunnyEV += iv.EVWh
			sunnyPrice += iv.EquilibriumPrice
			sunny++
		case iv.PVWh < peakPV/50:
			darkPrice = max(darkPrice, iv.EquilibriumPrice)
			dark++
		}
	}
	if sunny == 0 || dark == 0 {
		t.Fatalf("%d sunny and %d dark hours: want both", sunny, dark)
	}
	sunnyPrice /= float64(sunny)
	if !(darkPrice > 2*sunnyPrice) {
		t.Errorf("dearest dark hour %.4f, mean sunny hour %.4f: want scarcity to raise the price", darkPrice, sunnyPrice)
	}
	// The cars are plugged in from midnight: unmanaged they would charge at once, from the batteries.
	// (The hourly schedule leaves a few per cent undelivered by the deadline: 97.5 % at seed 7.)
	if ev < 0.95*r.EV.Needed || sunnyEV < 0.9*ev {
		t.Errorf("EVs got %.0f of %.0f Wh, %.0f Wh of it in sunny hours: want 95 %% of it, and 90 %% of that in the sun", ev, r.EV.Needed, sunnyEV)
	}
	if r.Energy.CriticalUnserved != 0 {
		t.Errorf("critical load unserved %.0f Wh with %.0f Wh still stored at the day's end", r.Energy.CriticalUnserved, r.Battery.StoredEnd)
	}
	if r.Payments.Paid != r.Payments.Received || r.Payments.Failed != 0 {
		t.Errorf("payments %+v", r.Payments)
	}
	t.Logf("islanded: sunny price %.4f, dearest dark %.4f; EV %.0f Wh, %.0f in the sun; wall %.1f s", sunnyPrice, darkPrice, ev, sunnyEV, r.WallSeconds)
}
