package sunspec

import (
	"context"
	"errors"
	"testing"
	"time"
)

// reactiveDevice serves a map of the given models (with a 5 kW nameplate) over Modbus TCP and
// returns it with a polled Hybrid on it.
func reactiveDevice(t *testing.T, models ...uint16) (*Map, *Hybrid) {
	t.Helper()
	specs := []ModelSpec{{ID: 1}, {ID: 120}}
	for _, id := range models {
		specs = append(specs, ModelSpec{ID: id})
	}
	m, err := NewMap(40000, specs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		model uint16
		path  string
		v     float64
	}{{120, "WRtg_SF", 0}, {120, "WRtg", 5000}} {
		if err := m.Set(s.model, s.path, s.v); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range models {
		var err error
		switch id {
		case 704:
			err = errors.Join(m.Set(704, "VarSet_SF", 0), m.Set(704, "VarSetPct_SF", -1))
		case 123:
			err = m.Set(123, "VArPct_SF", -1)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	srv := serve(t, map[byte]*Map{1: m})
	dev := NewDevice("hybrid", gateway(t, srv.Addr()).Unit(1), Schedule{}, nil, time.Minute)
	if err := dev.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m, &Hybrid{Dev: dev, Revert: 30 * time.Second}
}

func checkPoints(t *testing.T, m *Map, model uint16, want map[string]float64) {
	t.Helper()
	for path, w := range want {
		v, err := m.Get(model, path)
		if err != nil || !v.Valid || v.Number != w {
			t.Errorf("model %d %s on the device: %v %v, want %v", model, path, v.Number, err, w)
		}
	}
}

// The volt-var set-point reaches a device with model 704 as a constant-var set-point with its
// revert, and one with only model 123 as a percentage of WMax.
func TestReactivePowerThrough704And123(t *testing.T) {
	ctx := context.Background()
	m, h := reactiveDevice(t, 123, 704)
	if err := h.SetReactivePower(ctx, -1500); err != nil {
		t.Fatal(err)
	}
	checkPoints(t, m, 704, map[string]float64{"VarSetMod": 4, "VarSet": -1500, "VarSetRvrt": 0, "VarSetRvrtTms": 30,
		"VarSetEnaRvrt": 1, "VarSetEna": 1})
	if err := h.Dev.DisableDERReactivePower(ctx); err != nil {
		t.Fatal(err)
	}
	checkPoints(t, m, 704, map[string]float64{"VarSetEna": 0})

	m, h = reactiveDevice(t, 123)
	if err := h.SetReactivePower(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	checkPoints(t, m, 123, map[string]float64{"VArPct_Mod": 1, "VArWMaxPct": 20, "VArPct_RvrtTms": 30, "VArPct_Ena": 1})
	if err := h.SetReactivePower(ctx, 0); err != nil {
		t.Fatal(err)
	}
	checkPoints(t, m, 123, map[string]float64{"VArWMaxPct": 0, "VArPct_Ena": 0})

	_, h = reactiveDevice(t, 103)
	if err := h.SetReactivePower(ctx, 0); err != nil {
		t.Errorf("zero var to a device without reactive controls: %v, want nothing to do", err)
	}
	if err := h.SetReactivePower(ctx, 500); !errors.Is(err, ErrNoReactiveControl) {
		t.Errorf("500 var to a device without reactive controls: %v, want ErrNoReactiveControl", err)
	}
}

// Cease to energize and the black start's energize are model 123's Conn, without a revert.
func TestEnergizeThroughModel123Conn(t *testing.T) {
	ctx := context.Background()
	m, h := reactiveDevice(t, 123)
	if err := h.SetEnergize(ctx, false); err != nil {
		t.Fatal(err)
	}
	checkPoints(t, m, 123, map[string]float64{"Conn": 0, "Conn_RvrtTms": 0})
	if err := h.SetEnergize(ctx, true); err != nil {
		t.Fatal(err)
	}
	checkPoints(t, m, 123, map[string]float64{"Conn": 1})
	_, h = reactiveDevice(t, 103)
	if err := h.SetEnergize(ctx, false); err == nil {
		t.Error("cease to energize on a device without model 123: no error")
	}
}

// A device that carries model 123 without its reactive points (their scale factor not implemented)
// has no reactive control: zero is nothing to do, anything else says so.
func TestReactivePowerOnA123WithoutIt(t *testing.T) {
	m, err := NewMap(40000, ModelSpec{ID: 1}, ModelSpec{ID: 120}, ModelSpec{ID: 123})
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(m.Set(120, "WRtg_SF", 0), m.Set(120, "WRtg", 5000)); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, map[byte]*Map{1: m})
	dev := NewDevice("hybrid", gateway(t, srv.Addr()).Unit(1), Schedule{}, nil, time.Minute)
	ctx := context.Background()
	if err := dev.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	h := &Hybrid{Dev: dev}
	if err := h.SetReactivePower(ctx, 0); err != nil {
		t.Errorf("zero: %v", err)
	}
	if err := h.SetReactivePower(ctx, 300); !errors.Is(err, ErrNoReactiveControl) {
		t.Errorf("300 var: %v, want ErrNoReactiveControl", err)
	}
}
