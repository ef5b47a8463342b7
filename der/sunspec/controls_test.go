package sunspec

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The 704 and 802 controls are written over Modbus TCP to a served map, land in the registers the
// official definitions give, and are read back: a device that acknowledges but ignores a write
// fails with ErrVerify.
func TestDERAndBatteryControlsVerified(t *testing.T) {
	m := hybridMap(t)
	for _, s := range []struct {
		model uint16
		path  string
		v     float64
	}{{704, "WMaxLimPct_SF", -1}, {704, "WSet_SF", 0}} {
		if err := m.Set(s.model, s.path, s.v); err != nil {
			t.Fatal(err)
		}
	}
	srv := serve(t, map[byte]*Map{1: m})
	g := gateway(t, srv.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dev := NewDevice("hybrid", g.Unit(1), Schedule{}, nil, time.Minute)
	if err := dev.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	check := func(model uint16, want map[string]float64) {
		t.Helper()
		for path, w := range want {
			v, err := m.Get(model, path)
			if err != nil || !v.Valid || v.Number != w {
				t.Errorf("model %d %s on the device: %+v %v, want %v", model, path, v.Number, err, w)
			}
		}
	}
	if err := dev.SetDERPowerLimitPct(ctx, 42.5, 100, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	check(704, map[string]float64{"WMaxLimPct": 42.5, "WMaxLimPctRvrt": 100, "WMaxLimPctRvrtTms": 90,
		"WMaxLimPctEnaRvrt": 1, "WMaxLimPctEna": 1})
	if err := dev.SetDERActivePower(ctx, -2500, 0, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	check(704, map[string]float64{"WSetMod": 1, "WSet": -2500, "WSetRvrt": 0, "WSetRvrtTms": 60, "WSetEnaRvrt": 1, "WSetEna": 1})
	if err := dev.DisableDERActivePower(ctx); err != nil {
		t.Fatal(err)
	}
	check(704, map[string]float64{"WSetEna": 0})
	if err := dev.SetBatteryReserve(ctx, 20, 95); err != nil {
		t.Fatal(err)
	}
	check(802, map[string]float64{"SoCRsvMin": 20, "SocRsvMax": 95})
	if err := dev.SetBatteryOperation(ctx, BatteryConnect); err != nil {
		t.Fatal(err)
	}
	if err := dev.SetBatteryInverterState(ctx, BatteryInverterStarted); err != nil {
		t.Fatal(err)
	}
	if err := dev.BatteryHeartbeat(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if err := dev.ResetBatteryAlarms(ctx); err != nil {
		t.Fatal(err)
	}
	check(802, map[string]float64{"SetOp": 1, "SetInvState": 3, "CtrlHb": 7, "AlmRst": 1})

	// Out-of-range requests are refused before anything is written.
	for name, err := range map[string]error{
		"limit 120 %":      dev.SetDERPowerLimitPct(ctx, 120, 100, time.Minute),
		"reserve 90..20 %": dev.SetBatteryReserve(ctx, 90, 20),
		"operation 3":      dev.SetBatteryOperation(ctx, 3),
		"inverter state 0": dev.SetBatteryInverterState(ctx, 0),
	} {
		if err == nil {
			t.Errorf("%s accepted", name)
		}
	}

	// The same controls against a device that ignores writes.
	deaf := NewDevice("deaf", ignoringWrites{g.Unit(1)}, Schedule{}, nil, time.Minute)
	if err := deaf.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"704 WMaxLimPct": deaf.SetDERPowerLimitPct(ctx, 10, 100, time.Minute),
		"704 WSet":       deaf.SetDERActivePower(ctx, 1000, 0, time.Minute),
		"802 reserve":    deaf.SetBatteryReserve(ctx, 30, 90),
		"802 SetOp":      deaf.SetBatteryOperation(ctx, BatteryDisconnect),
		"802 inverter":   deaf.SetBatteryInverterState(ctx, BatteryInverterStandby),
		"802 heartbeat":  deaf.BatteryHeartbeat(ctx, 8),
	} {
		if !errors.Is(err, ErrVerify) {
			t.Errorf("%s on a device that ignores writes: %v, want ErrVerify", name, err)
		}
	}
}
