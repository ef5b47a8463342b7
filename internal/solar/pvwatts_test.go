package solar

import (
	"testing"
	"time"
)

// ClearSkyAC is zero at night, peaks near solar noon and never exceeds the inverter's rating.
func TestClearSkyACShape(t *testing.T) {
	c := DefaultPVConfig()
	day := time.Date(2028, 6, 20, 0, 0, 0, 0, time.UTC)
	if p := c.ClearSkyAC(40, day.Add(2*time.Hour)); p != 0 {
		t.Fatalf("02:00 output %v, want 0", p)
	}
	noon, nine := c.ClearSkyAC(40, day.Add(12*time.Hour)), c.ClearSkyAC(40, day.Add(9*time.Hour))
	if !(noon > nine && nine > 0) {
		t.Fatalf("noon %v, 09:00 %v: want noon > 09:00 > 0", noon, nine)
	}
	if noon > c.ACRating() {
		t.Fatalf("noon %v above the AC rating %v", noon, c.ACRating())
	}
}
