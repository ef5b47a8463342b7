package islanding

import (
	"testing"
	"time"

	"github.com/fractals-energy/fractals/grid/ieee1547"
	"github.com/fractals-energy/fractals/internal/units"
)

// TestDetectionOpensThePCCInsideRideThrough checks the documented division of labour: during a utility
// sag to 0.80 p.u. and an under-frequency excursion to 59.2 Hz, both inside category II ride-through
// regions, the default detector finds an island within its detection time (the controller opens the
// PCC), while a category II DER relay fed the same samples neither trips nor stops energizing: the DER
// rides through and goes on supplying the island.
func TestDetectionOpensThePCCInsideRideThrough(t *testing.T) {
	for _, tc := range []struct {
		v, f   float64
		method Method
		mode   ieee1547.Mode
	}{
		{0.80, 60, UnderVoltage, ieee1547.Mandatory},
		{1.0, 59.2, UnderFrequency, ieee1547.Continuous},
	} {
		det, err := New(DefaultSettings())
		if err != nil {
			t.Fatal(err)
		}
		relay, err := ieee1547.NewRelay(ieee1547.DefaultSettings(ieee1547.CategoryII))
		if err != nil {
			t.Fatal(err)
		}
		var found *Detection
		for since := time.Duration(0); since <= 2*time.Second; since += tick {
			v, f := units.PerUnit(tc.v), units.Hertz(tc.f)
			d, ok, err := det.Step(Sample{At: t0.Add(since), V: v, F: f, PhaseDeg: 360 * (tc.f - 60) * since.Seconds(), BreakerClosed: true})
			if err != nil {
				t.Fatal(err)
			}
			if ok && found == nil {
				found = &d
			}
			r := relay.Step(ieee1547.Sample{V: v, F: f}, tick)
			mode := r.VoltageMode
			if tc.method == UnderFrequency {
				mode = r.FrequencyMode
			}
			if r.Trip || !r.Energize || mode != tc.mode {
				t.Fatalf("%g p.u. %g Hz at %v: DER relay %+v; want it riding through in %v", tc.v, tc.f, since, r, tc.mode)
			}
		}
		if found == nil || found.Method != tc.method || found.Delay() > DefaultSettings().DetectionTime(tc.method, tick) {
			t.Errorf("%g p.u. %g Hz: detection %v; want %v within its detection time", tc.v, tc.f, found, tc.method)
		}
	}
}
