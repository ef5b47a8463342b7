package rig

import (
	"context"
	"testing"
)

// The controller's reactive power set-point reaches the plant through the rig inverter's model 704
// over Modbus TCP, reads back in model 103's VAr, and lapses to 0 var with the inverter's revert
// timer when not refreshed.
func TestReactivePowerOverSunSpec(t *testing.T) {
	r := startRig(t, 1)
	h, _ := hybrid(t, r)
	ctx := context.Background()
	waitFor(t, "the first plant step", func() bool { return r.Truth().PVPower > 0 })
	if err := h.Dev.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.SetReactivePower(ctx, -800); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the plant absorbing 800 var", func() bool { tr := r.Truth(); return tr.ReactivePower == -800 && tr.ReactiveHeld })
	waitFor(t, "model 103 VAr showing it", func() bool {
		if err := h.Dev.Poll(ctx); err != nil {
			return false
		}
		b, err := h.Dev.Block(103)
		if err != nil {
			return false
		}
		v, ok := b.Number("VAr")
		return ok && v == -800
	})
	// A reactive write leaves the active power limit alone.
	if tr := r.Truth(); tr.PVLimitHeld {
		t.Errorf("a reactive write took hold of the PV limit: %+v", tr)
	}
	waitFor(t, "the 2 s revert back to 0 var", func() bool { tr := r.Truth(); return tr.ReactivePower == 0 && !tr.ReactiveHeld })
}
