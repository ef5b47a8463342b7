package sunspec

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der"
)

// Every SunSpec meter model, generated from the official definitions, served over Modbus TCP and
// read as the PCC meter.
func TestMeterModels(t *testing.T) {
	for _, id := range MeterModels {
		m, err := NewMap(40000, ModelSpec{ID: 1}, ModelSpec{ID: id})
		if err != nil {
			t.Fatalf("model %d: %v", id, err)
		}
		if id < 210 {
			for _, sf := range []string{"W_SF", "V_SF", "Hz_SF"} {
				if err := m.Set(id, sf, -1); err != nil {
					t.Fatalf("model %d %s: %v", id, sf, err)
				}
			}
		}
		for path, v := range map[string]float64{"W": -1234.5, "PhVphA": 231.2, "Hz": 49.9} {
			if err := m.Set(id, path, v); err != nil {
				t.Fatalf("model %d %s: %v", id, path, err)
			}
		}
		srv := serve(t, map[byte]*Map{1: m})
		g := gateway(t, srv.Addr())
		dev := NewDevice("pcc", g.Unit(1), Schedule{}, nil, time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := dev.Poll(ctx); err != nil {
			t.Fatalf("model %d: %v", id, err)
		}
		cancel()
		meter := &Meter{Dev: dev}
		st, err := meter.ReadMeter(ctx)
		if err != nil || st.Power != -1234.5 || st.Voltage < 231.19 || st.Voltage > 231.21 || st.Frequency < 49.89 || !st.GridPresent {
			t.Errorf("model %d: %+v %v", id, st, err)
		}
		if err := m.Set(id, "Hz", 500); err == nil {
			_ = dev.Poll(context.Background())
			if _, err := meter.ReadMeter(context.Background()); !errors.Is(err, der.ErrImplausible) {
				t.Errorf("model %d at 500 Hz: %v, want implausible", id, err)
			}
		}
	}
}
