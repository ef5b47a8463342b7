package regmap

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/internal/clock"
	u "github.com/fractals-energy/fractals/internal/units"
)

// hybridTestMap is a small hybrid inverter with the encodings real maps use.
func hybridTestMap() *Map {
	return &Map{
		Points: []Register{
			{Point: PVPower, Address: 100, Type: S32, Unit: "W"},
			{Point: PVRated, Address: 102, Type: U32, WordOrder: LowFirst, Unit: "W"},
			{Point: BatterySoC, Address: 110, Type: U16, Scale: 0.1, Unit: "%"},
			{Point: BatteryPower, Address: 111, Type: S16, Scale: -1, Unit: "W"}, // device: positive discharging
			{Point: MeterPower, Address: 200, Type: F32, Unit: "W"},
			{Point: MeterVoltage, Address: 202, Type: U16, Scale: 0.1, Unit: "V"},
			{Point: MeterFrequency, Address: 203, Type: U16, Scale: 0.01, Unit: "Hz"},
			{Point: "status", Address: 300, Type: U16, Enum: map[int64]string{0: "standby", 1: "running"}},
			{Point: "model", Address: 310, Type: Str, Words: 4},
		},
		Setpoints: []Setpoint{
			{Register: Register{Point: PVLimitPct, Address: 400, Type: U16, Scale: 0.1, Unit: "%"}, Min: 0, Max: 100},
			{Register: Register{Point: BatterySetpoint, Address: 402, Type: U16, Unit: "W"}, Min: -5000, Max: 5000,
				Direction: &Direction{Address: 401, Positive: 0xAA, Negative: 0xBB, Zero: 0xCC}},
		},
	}
}

func serve(t *testing.T, b *Bank) (*modbus.Server, *modbus.Gateway) {
	t.Helper()
	srv := modbus.NewServer(map[byte]modbus.Bank{3: b}, 1)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	g, err := modbus.NewGateway(modbus.Config{Address: srv.Addr(), Timeout: 300 * time.Millisecond, BackoffMin: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return srv, g
}

// Over real Modbus TCP: the device reads every encoding, writes set-points within limits (the
// direction register first), and reads them back.
func TestDeviceOverTCP(t *testing.T) {
	m := hybridTestMap()
	bank, err := NewBank(m)
	if err != nil {
		t.Fatal(err)
	}
	for p, v := range map[string]float64{PVPower: 4200, PVRated: 6000, BatterySoC: 55.5, BatteryPower: -1200,
		MeterPower: -350.5, MeterVoltage: 231.2, MeterFrequency: 50.01, "status": 1} {
		if err := bank.Set(p, v); err != nil {
			t.Fatal(p, err)
		}
	}
	if err := bank.SetText("model", "SH5.0RT"); err != nil {
		t.Fatal(err)
	}
	_, g := serve(t, bank)
	dev, err := New(Config{Name: "hybrid", StaleAfter: 5 * time.Second}, g.Unit(3), m)
	if err != nil {
		t.Fatal(err)
	}
	inv := &Inverter{Dev: dev, MaxCharge: 5000, MaxDischarge: 5000}
	ctx := context.Background()
	pv, err := inv.ReadPV(ctx)
	if err != nil || pv.Power != 4200 || pv.Rated != 6000 {
		t.Fatalf("PV %+v %v", pv, err)
	}
	bat, err := inv.ReadBattery(ctx)
	if err != nil || bat.SoC < 0.5549 || bat.SoC > 0.5551 || bat.Power != -1200 {
		t.Fatalf("battery %+v %v", bat, err)
	}
	mt, err := inv.ReadMeter(ctx)
	if err != nil || mt.Power != -350.5 || mt.Voltage < 231.19 || mt.Frequency < 50.009 || !mt.GridPresent {
		t.Fatalf("meter %+v %v", mt, err)
	}
	if v, err := dev.Value("status"); err != nil || v.Text != "running" {
		t.Errorf("status %+v %v", v, err)
	}
	if v, err := dev.Value("model"); err != nil || v.Text != "SH5.0RT" {
		t.Errorf("model %+v %v", v, err)
	}
	if err := inv.SetPVLimit(ctx, 3000); err != nil {
		t.Fatal(err)
	}
	if v, err := dev.ReadSetpoint(ctx, PVLimitPct); err != nil || v != 50 {
		t.Errorf("PV limit read back %v %v, want 50 %%", v, err)
	}
	for _, w := range []float64{-2500, 1800, 0} {
		if err := inv.SetBatteryPower(ctx, u.Watts(w)); err != nil {
			t.Fatal(err)
		}
		if v, err := dev.ReadSetpoint(ctx, BatterySetpoint); err != nil || v != w {
			t.Errorf("battery set-point read back %v %v, want %v", v, err, w)
		}
	}
	if err := dev.Write(ctx, BatterySetpoint, 9000); err == nil {
		t.Error("9000 W written past the 5000 W limit")
	}
}

// The same stale rules as SunSpec: a silent device fails at once (der.ErrStale), values age out.
func TestDeviceStaleAndImplausible(t *testing.T) {
	m := hybridTestMap()
	bank, _ := NewBank(m)
	_ = bank.Set(MeterVoltage, 230)
	_ = bank.Set(MeterFrequency, 50)
	_ = bank.Set(MeterPower, 1e12)
	srv, g := serve(t, bank)
	clk := clock.NewSim(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	dev, err := New(Config{Name: "m", StaleAfter: 2 * time.Second, MinInterval: time.Second, Clock: clk}, g.Unit(3), m)
	if err != nil {
		t.Fatal(err)
	}
	inv := &Inverter{Dev: dev}
	ctx := context.Background()
	if _, err := inv.ReadMeter(ctx); !errors.Is(err, der.ErrImplausible) {
		t.Fatalf("1e12 W: %v, want implausible", err)
	}
	_ = bank.Set(MeterPower, 100)
	clk.Advance(time.Second)
	if st, err := inv.ReadMeter(ctx); err != nil || st.Power != 100 {
		t.Fatalf("100 W: %+v %v", st, err)
	}
	// Within MinInterval the last poll serves; after StaleAfter without a poll the values are stale.
	_ = bank.Set(MeterPower, 200)
	if st, _ := inv.ReadMeter(ctx); st.Power != 100 {
		t.Errorf("within MinInterval: %v, want the last poll's 100 W", st.Power)
	}
	clk.Advance(1500 * time.Millisecond)
	if st, err := inv.ReadMeter(ctx); err != nil || st.Power != 200 {
		t.Errorf("after MinInterval: %+v %v, want 200 W", st, err)
	}
	clk.Advance(3 * time.Second)
	if _, err := dev.Value(MeterPower); !errors.Is(err, der.ErrStale) {
		t.Errorf("3 s after the last poll: %v, want stale", err)
	}
	srv.SetFault(3, modbus.Fault{Silent: true})
	defer srv.SetFault(3, modbus.Fault{})
	if _, err := inv.ReadMeter(ctx); !errors.Is(err, der.ErrStale) {
		t.Fatalf("silent device: %v, want stale", err)
	}
}
