package fractals

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

func TestEVModeOffNowAndDeadline(t *testing.T) {
	cfg := DefaultConfig()
	far := withEV(snap(), 10000, 0, 7400, t0.Add(6*time.Hour))
	near := withEV(snap(), 10000, 0, 7400, t0.Add(90*time.Minute))
	// By deadline (the default): hours to spare and no surplus, no charge.
	if _, c, _ := step(t, cfg, State{}, far); c.EVPower != 0 {
		t.Fatalf("deadline mode, hours to spare: EV %v, want 0", c.EVPower)
	}
	// Now: full power from the grid, still never from the home battery.
	st, c, _ := step(t, cfg, RequestEVMode(State{}, EVNow), far)
	if c.EVPower != 7400 || c.BatteryPower != -335 || st.EVMode != EVNow {
		t.Fatalf("now mode: EV %v (want 7400), battery %v (want -335), mode %v kept?", c.EVPower, c.BatteryPower, st.EVMode)
	}
	// Off: nothing even when the deadline is near and PV is plentiful.
	near.PVAvailable = good[units.Watts](5000, near.At)
	if _, c, _ := step(t, cfg, RequestEVMode(State{}, EVOff), near); c.EVPower != 0 {
		t.Fatalf("off mode: EV %v, want 0", c.EVPower)
	}
}

func TestEVModeNamesRoundTrip(t *testing.T) {
	for _, n := range EVModeNames() {
		m, err := ParseEVMode(n)
		if err != nil || m.String() != n {
			t.Fatalf("%q: %v, %v", n, m, err)
		}
		b, err := json.Marshal(struct{ Mode EVMode }{m})
		var back struct{ Mode EVMode }
		if err != nil || json.Unmarshal(b, &back) != nil || back.Mode != m {
			t.Fatalf("%q through JSON: %s, %v", n, b, err)
		}
	}
	if _, err := ParseEVMode("fast"); err == nil {
		t.Fatal("unknown mode accepted")
	}
	var st struct{ Mode EVMode }
	if err := json.Unmarshal([]byte(`{"Mode":"turbo"}`), &st); err == nil {
		t.Fatal("unknown mode in JSON accepted")
	}
}
