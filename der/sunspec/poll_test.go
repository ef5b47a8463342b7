package sunspec

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/internal/units"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// inverterMap is a hybrid inverter as the rig lays it out, with its nameplate, state and controls set.
func inverterMap(t testing.TB) *Map {
	t.Helper()
	m, err := NewMap(40000, ModelSpec{ID: 1}, ModelSpec{ID: 103}, ModelSpec{ID: 120}, ModelSpec{ID: 121},
		ModelSpec{ID: 123}, ModelSpec{ID: 124}, ModelSpec{ID: 160, Repeats: map[string]int{"module": 2}},
		ModelSpec{ID: 802}, ModelSpec{ID: 701})
	if err != nil {
		t.Fatal(err)
	}
	sets := []struct {
		model uint16
		path  string
		v     float64
	}{
		{103, "W_SF", 0}, {103, "W", 2500}, {103, "Hz_SF", -2}, {103, "Hz", 50},
		{120, "WRtg_SF", 0}, {120, "WRtg", 8000}, {121, "WMax_SF", 0}, {121, "WMax", 8000},
		{123, "WMaxLimPct_SF", -1}, {123, "WMaxLimPct", 100}, {123, "WMaxLim_Ena", 0}, {123, "WMaxLimPct_RvrtTms", 0},
		{124, "WChaMax_SF", 0}, {124, "WChaMax", 5000}, {124, "InOutWRte_SF", -2}, {124, "InWRte", 0}, {124, "OutWRte", 0},
		{124, "InOutWRte_RvrtTms", 0}, {124, "StorCtl_Mod", 0},
		{160, "DCW_SF", 0}, {160, "module[0].DCW", 1800}, {160, "module[1].DCW", 1200},
		{802, "SoC_SF", -1}, {802, "SoC", 62.5}, {802, "W_SF", 0}, {802, "W", -500}, {802, "WHRtg_SF", 0}, {802, "WHRtg", 10000},
		{802, "WChaDisChaMax_SF", 0}, {802, "WChaRteMax", 5000}, {802, "WDisChaRteMax", 5000},
		{802, "SoCMin", 10}, {802, "SoCMax", 95}, {701, "DERMode", 2},
	}
	for _, s := range sets {
		if err := m.Set(s.model, s.path, s.v); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

var fastModels = Schedule{Fast: []uint16{103, 124, 160, 802, 701}, Slow: []uint16{1, 120, 121, 123}, SlowEvery: 10}

func TestPollAndHybridAdapter(t *testing.T) {
	m := inverterMap(t)
	srv := serve(t, map[byte]*Map{1: m})
	g := gateway(t, srv.Addr())
	dev := NewDevice("inverter", g.Unit(1), fastModels, nil, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dev.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	h := &Hybrid{Dev: dev, Revert: 30 * time.Second}
	pv, err := h.ReadPV(ctx)
	if err != nil || pv.Power != 3000 || pv.Rated != 8000 {
		t.Fatalf("PV %+v %v, want 3000 W of 8000", pv, err)
	}
	bat, err := h.ReadBattery(ctx)
	if err != nil || bat.SoC != 0.625 || bat.Power != -500 || bat.Capacity != 10000 || !bat.GridForming || bat.SoCMin != 0.1 {
		t.Fatalf("battery %+v %v", bat, err)
	}
	if err := h.SetPVLimit(ctx, 2000); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Get(123, "WMaxLimPct"); v.Number != 25 {
		t.Errorf("WMaxLimPct %v, want 25", v.Number)
	}
	if v, _ := m.Get(123, "WMaxLimPct_RvrtTms"); v.Number != 30 {
		t.Errorf("revert %v, want 30 s", v.Number)
	}
	if err := h.SetBatteryPower(ctx, -1250); err != nil {
		t.Fatal(err)
	}
	in, _ := m.Get(124, "InWRte")
	out, _ := m.Get(124, "OutWRte")
	if in.Number != -25 || out.Number != 25 {
		t.Errorf("InWRte %v OutWRte %v, want -25 and 25", in.Number, out.Number)
	}
	// A request beyond the inverter's maximum is clamped to it, not refused (which would leave
	// the previous set-point in place).
	if err := h.SetBatteryPower(ctx, 9000); err != nil {
		t.Errorf("battery power beyond WChaMax: %v, want clamped", err)
	}
	in, _ = m.Get(124, "InWRte")
	out, _ = m.Get(124, "OutWRte")
	if in.Number != 100 || out.Number != -100 {
		t.Errorf("9000 W beyond WChaMax: InWRte %v OutWRte %v, want 100 and -100", in.Number, out.Number)
	}
	if err := h.SetPVLimit(ctx, units.Watts(8000)); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Get(123, "WMaxLim_Ena"); v.Number != 0 {
		t.Errorf("full limit should disable the limit, WMaxLim_Ena %v", v.Number)
	}
}

func TestScheduleReadsSlowModelsRarely(t *testing.T) {
	m := inverterMap(t)
	var reads = map[uint16]int{}
	counting := countingRegs{m.Registers(), m, reads}
	dev := NewDevice("inv", counting, Schedule{Fast: []uint16{103}, Slow: []uint16{120}, SlowEvery: 5}, nil, time.Second)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := dev.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if reads[103] != 10 || reads[120] != 2 {
		t.Errorf("reads %v, want 103 ten times and 120 twice", reads)
	}
}

type countingRegs struct {
	Registers
	m     *Map
	reads map[uint16]int
}

func (c countingRegs) ReadHoldingRegisters(ctx context.Context, addr, n uint16) ([]uint16, error) {
	for _, id := range c.m.Models() {
		b, _ := c.m.Block(id)
		if b.Addr >= addr && int(b.Addr)+int(b.Length)+2 <= int(addr)+int(n) && n > 2 {
			c.reads[id]++
		}
	}
	return c.Registers.ReadHoldingRegisters(ctx, addr, n)
}

func TestPollFaultsStaleAndRecovery(t *testing.T) {
	m := inverterMap(t)
	srv := serve(t, map[byte]*Map{1: m})
	g, err := modbus.NewGateway(modbus.Config{Address: srv.Addr(), Timeout: 100 * time.Millisecond,
		BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	dev := NewDevice("inverter", g.Unit(1), fastModels, nil, 300*time.Millisecond)
	ctx := context.Background()
	if err := dev.Poll(ctx); err != nil {
		t.Fatal(err)
	}

	// Silent device: the read times out, then back-off makes further polls fail fast as stale.
	srv.SetFault(1, modbus.Fault{Silent: true})
	start := time.Now()
	if err := dev.Poll(ctx); err == nil {
		t.Fatal("poll of a silent device succeeded")
	}
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Errorf("silent device took %v, timeout is 100 ms", d)
	}
	err = dev.Poll(ctx)
	if !errors.Is(err, der.ErrStale) {
		t.Errorf("poll in back-off: %v, want ErrStale", err)
	}
	time.Sleep(350 * time.Millisecond)
	if _, err := dev.Block(103); !errors.Is(err, der.ErrStale) {
		t.Errorf("block after the stale limit: %v, want ErrStale", err)
	}
	h := &Hybrid{Dev: dev}
	if _, err := h.ReadBattery(ctx); !errors.Is(err, der.ErrStale) {
		t.Errorf("adapter on a stale device: %v, want ErrStale", err)
	}

	// Back online: it recovers by itself once the back-off has passed.
	srv.SetFault(1, modbus.Fault{})
	deadline := time.Now().Add(2 * time.Second)
	for dev.Poll(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("device did not recover within 2 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := dev.Block(103); err != nil {
		t.Errorf("after recovery: %v", err)
	}

	// An exception reply is an answer: an error, but no back-off.
	srv.SetFault(1, modbus.Fault{Exception: 6})
	if err := dev.Poll(ctx); modbus.ExceptionCode(err) != 6 {
		t.Errorf("busy device: %v, want exception 6", err)
	}
	srv.SetFault(1, modbus.Fault{})
	if err := dev.Poll(ctx); err != nil {
		t.Errorf("poll right after an exception: %v (no back-off expected)", err)
	}

	// Garbage registers never panic and never replace good blocks with nonsense silently.
	srv.SetFault(1, modbus.Fault{Garbage: true})
	for i := 0; i < 5; i++ {
		if err := dev.Poll(ctx); err == nil {
			t.Error("garbage registers decoded without error")
		}
	}
	srv.SetFault(1, modbus.Fault{})

	// Offline server (connection refused), then back on the same port.
	addr := srv.Addr()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := dev.Poll(ctx); err == nil {
		t.Error("poll of a stopped server succeeded")
	}
	if err := srv.Start(addr); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(2 * time.Second)
	for err := dev.Poll(ctx); err != nil; err = dev.Poll(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWriteReadDelay(t *testing.T) {
	m := inverterMap(t)
	srv := serve(t, map[byte]*Map{1: m})
	g, err := modbus.NewGateway(modbus.Config{Address: srv.Addr(), WriteReadDelay: 80 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	u := g.Unit(1)
	ctx := context.Background()
	lim, err := m.Get(123, "WMaxLimPct")
	if err != nil {
		t.Fatal(err)
	}
	if err := u.WriteMultipleRegisters(ctx, lim.Addr, []uint16{100}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := u.ReadHoldingRegisters(ctx, 40000, 2); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 70*time.Millisecond {
		t.Errorf("read %v after a write, want ≥ 80 ms", d)
	}
}

// BenchmarkPollCycle16 is one control cycle reading the fast models of 16 hybrid inverters served as
// 16 unit ids behind one Modbus TCP gateway on loopback, with 4 connections to it.
func BenchmarkPollCycle16(b *testing.B) {
	maps := map[byte]*Map{}
	for i := byte(1); i <= 16; i++ {
		maps[i] = inverterMap(b)
	}
	srv := serve(b, maps)
	g, err := modbus.NewGateway(modbus.Config{Address: srv.Addr(), MaxConcurrent: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	p := &Poller{}
	for i := byte(1); i <= 16; i++ {
		p.Devices = append(p.Devices, NewDevice(fmt.Sprint("inv", i), g.Unit(i), fastModels, nil, time.Second))
	}
	ctx := context.Background()
	if errs := p.PollOnce(ctx); len(errs) > 0 {
		b.Fatal(errs)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if errs := p.PollOnce(ctx); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000/100*100, "%of100ms")
}

// BenchmarkScan is a full scan (discovery and every model decoded) of one device over loopback.
func BenchmarkScan(b *testing.B) {
	srv := serve(b, map[byte]*Map{1: inverterMap(b)})
	g := gateway(b, srv.Addr())
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		res, err := Scan(ctx, g.Unit(1))
		if err != nil || len(res.Models) != 9 {
			b.Fatal(res, err)
		}
	}
}
