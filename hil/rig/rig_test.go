package rig

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/gpio"
	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/der/mqtt"
	"github.com/fractals-energy/fractals/der/sunspec"
	"github.com/fractals-energy/fractals/hil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func noonPlant() hil.Config {
	c := hil.DefaultConfig()
	c.Start = time.Date(2026, 6, 21, 12, 0, 0, 0, time.UTC)
	return c
}

func startRig(t testing.TB, speed float64) *Rig {
	t.Helper()
	r, err := Start(Config{Plant: noonPlant(), Listen: "127.0.0.1:0", Speed: speed, Tick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var schedule = sunspec.Schedule{Fast: []uint16{103, 124, 160, 802, 701}, Slow: []uint16{1, 120, 121, 123}, SlowEvery: 30}

func hybrid(t testing.TB, r *Rig) (*sunspec.Hybrid, *modbus.Gateway) {
	t.Helper()
	g, err := modbus.NewGateway(modbus.Config{Address: r.ModbusAddr(), Timeout: 300 * time.Millisecond,
		BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	dev := sunspec.NewDevice("inverter", g.Unit(InverterUnit), schedule, nil, time.Second)
	return &sunspec.Hybrid{Dev: dev, Revert: 2 * time.Second}, g
}

func TestInverterRegistersFollowThePlantAndControlsDriveIt(t *testing.T) {
	r := startRig(t, 1)
	h, _ := hybrid(t, r)
	ctx := context.Background()
	waitFor(t, "the first plant step", func() bool { return r.Truth().PVPower > 0 })
	if err := h.Dev.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	hs := h.Dev.Headers()
	if hs[0].ID != 1 || hs[0].Addr != 40002 {
		t.Fatalf("the map must start with the common model right after SunS at 40000: %+v", hs[0])
	}
	var ids []uint16
	for _, hd := range hs {
		ids = append(ids, hd.ID)
	}
	for _, want := range []uint16{1, 103, 120, 121, 122, 123, 124, 160, 802, 701, 702, 703, 704} {
		if !h.Dev.Has(want) {
			t.Errorf("model %d missing from %v", want, ids)
		}
	}
	if b, err := h.Dev.Block(160); err != nil {
		t.Error(err)
	} else if n, ok := b.Number("N"); !ok || n != 2 {
		t.Errorf("model 160 N = %v %v, want the 2 modules it holds", n, ok)
	} else if _, ok := b.Get("module[1].DCW"); !ok {
		t.Error("model 160 without its second module")
	}
	pv, err := h.ReadPV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	truth := r.Truth()
	if math.Abs(float64(pv.Rated-r.plant.PVRated())) > 0.5 || math.Abs(float64(pv.Power-truth.PVPower)) > 1.5 || pv.Power < 500 {
		t.Errorf("PV %+v, plant %v W (noon on the solstice)", pv, truth.PVPower)
	}
	bat, err := h.ReadBattery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(bat.SoC-truth.SoC)) > 1e-4 || bat.Capacity != 10000 || bat.GridForming {
		t.Errorf("battery %+v, plant SoC %v", bat, truth.SoC)
	}

	// Battery set-point through 124: the plant charges at exactly that power.
	if err := h.SetBatteryPower(ctx, 1500); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "battery charging at 1500 W", func() bool { return r.Truth().BatteryPower == 1500 })
	// At noon the PV surplus is above the 3 kW export limit: the plant itself makes the battery take
	// the excess, so a lower charge set-point (not a discharge) is what can be checked exactly.
	if err := h.SetBatteryPower(ctx, 800); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "battery charging at 800 W", func() bool { return r.Truth().BatteryPower == 800 })
	// PV limit through 123.
	if err := h.SetPVLimit(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "PV limited to 1000 W", func() bool { tr := r.Truth(); return tr.PVPower <= 1000.5 && tr.PVLimitHeld })
	// The inverter's revert timer (2 s) lapses when not refreshed: defaults come back.
	waitFor(t, "revert", func() bool { tr := r.Truth(); return !tr.BatteryHeld && !tr.PVLimitHeld && tr.PVPower > 1000.5 })
}

func TestModbusFaults(t *testing.T) {
	r := startRig(t, 1)
	h, g := hybrid(t, r)
	ctx := context.Background()
	if err := h.Dev.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	unit := g.Unit(InverterUnit)
	if err := r.Inject(Fault{Device: "inverter", Kind: "exception", On: true, Value: 6}); err != nil {
		t.Fatal(err)
	}
	if _, err := unit.ReadHoldingRegisters(ctx, 40000, 2); modbus.ExceptionCode(err) != 6 {
		t.Fatalf("exception fault: %v, want code 6", err)
	}
	_ = r.Inject(Fault{Device: "inverter", Kind: "exception"})
	if err := r.Inject(Fault{Device: "inverter", Kind: "garbage", On: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond) // past the client's back-off
	regs, err := unit.ReadHoldingRegisters(ctx, 40000, 2)
	if err != nil || (regs[0] == sunspec.Marker[0] && regs[1] == sunspec.Marker[1]) {
		t.Fatalf("garbage fault served %v %v", regs, err)
	}
	_ = r.Inject(Fault{Device: "inverter", Kind: "garbage"})
	if err := r.Inject(Fault{Device: "inverter", Kind: "offline", On: true}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := unit.ReadHoldingRegisters(ctx, 40000, 2); err == nil || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("offline inverter answered (%v) after %v", err, time.Since(start))
	}
	if _, err := unit.ReadHoldingRegisters(ctx, 40000, 2); !errors.Is(err, der.ErrStale) {
		t.Fatalf("during back-off: %v, want ErrStale", err)
	}
	_ = r.Inject(Fault{Device: "inverter", Kind: "offline"})
	if err := r.Inject(Fault{Device: "inverter", Kind: "slow", On: true, Value: 100}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "recovery after offline", func() bool { return h.Dev.Poll(ctx) == nil })
	start = time.Now()
	if _, err := unit.ReadHoldingRegisters(ctx, 40000, 2); err != nil || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("slow fault: %v after %v", err, time.Since(start))
	}
	if err := r.Inject(Fault{Device: "inverter", Kind: "melt", On: true}); err == nil {
		t.Fatal("unknown fault accepted")
	}
}

func TestRelaysOverPinsAndStuckRelay(t *testing.T) {
	r := startRig(t, 1)
	ctx := context.Background()
	rm := gpio.NewRemote(r.PinAddr(), time.Second)
	defer rm.Close()
	pcc, err := gpio.NewRelay(gpio.RelayConfig{Name: "pcc", Coil: rm.Pin(PinPCCCoil), Feedback: rm.Pin(PinPCCFeedback), Settle: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if closed, err := pcc.ReadSwitch(ctx); err != nil || !closed {
		t.Fatalf("PCC starts closed: %v %v", closed, err)
	}
	if err := pcc.SetSwitch(ctx, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "island", func() bool { tr := r.Truth(); return !tr.PCCClosed && tr.GridForming })
	gridOK, err := gpio.NewInput(gpio.InputConfig{Name: "grid", Pin: rm.Pin(PinGridOK)})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := gridOK.Read(ctx); err != nil || !ok {
		t.Fatalf("grid present input %v %v", ok, err)
	}
	if err := r.Inject(Fault{Device: "pcc", Kind: "stuck", On: true}); err != nil {
		t.Fatal(err)
	}
	if err := pcc.SetSwitch(ctx, true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(80 * time.Millisecond)
	if err := pcc.SetSwitch(ctx, true); !errors.Is(err, gpio.ErrStuck) {
		t.Fatalf("stuck PCC: %v, want ErrStuck", err)
	}
	if r.Truth().PCCClosed {
		t.Fatal("a stuck breaker closed")
	}
	_ = r.Inject(Fault{Device: "pcc", Kind: "stuck"})
	if err := pcc.SetSwitch(ctx, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reconnected", func() bool { return r.Truth().PCCClosed })

	load := &gpio.Load{Relay: mustRelay(t, rm, LoadCoil(hil.Storage), LoadFeedback(hil.Storage))}
	if err := load.SetLoad(ctx, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "storage shed", func() bool { return !r.Truth().Loads[hil.Storage].On })
	if err := r.Inject(Fault{Device: "pins", Kind: "offline", On: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := pcc.ReadSwitch(ctx); err == nil {
		t.Fatal("pin server offline but the relay read")
	}
	_ = r.Inject(Fault{Device: "pins", Kind: "offline"})
	if closed, err := pcc.ReadSwitch(ctx); err != nil || !closed {
		t.Fatalf("after the pin server came back: %v %v", closed, err)
	}
}

func mustRelay(t *testing.T, rm *gpio.Remote, coil, fb string) *gpio.Relay {
	t.Helper()
	rl, err := gpio.NewRelay(gpio.RelayConfig{Name: coil, Coil: rm.Pin(coil), Feedback: rm.Pin(fb)})
	if err != nil {
		t.Fatal(err)
	}
	return rl
}

func TestMQTTDevicesAndBrokerDown(t *testing.T) {
	r := startRig(t, 1)
	points := map[string]mqtt.Binding{}
	for p, topic := range meterTopics("meshbox") {
		points[p] = mqtt.Binding{Topic: topic}
	}
	for p, topic := range evTopics("meshbox") {
		points[p] = mqtt.Binding{Topic: topic}
	}
	dev, err := mqtt.New(mqtt.Config{Name: "rig", Broker: r.BrokerURL(), ClientID: "rig-test", StaleAfter: 500 * time.Millisecond,
		MaxReconnect: 200 * time.Millisecond,
		Mapping:      mqtt.Mapping{Points: points, Commands: map[string]mqtt.Binding{mqtt.CmdEVPower: {Topic: evCommandTopic("meshbox")}}}})
	if err != nil {
		t.Fatal(err)
	}
	dev.Start()
	defer dev.Close()
	ctx := context.Background()
	meter := &mqtt.Inverter{Dev: dev}
	waitFor(t, "meter", func() bool { _, err := meter.ReadMeter(ctx); return err == nil })
	m, _ := meter.ReadMeter(ctx)
	if tr := r.Truth(); !m.GridPresent || m.Frequency != tr.Frequency || math.Abs(float64(m.Power-tr.GridPower)) > 3000 {
		t.Fatalf("meter %+v vs plant %+v", m, tr)
	}
	ev := &mqtt.Charger{Dev: dev}
	waitFor(t, "ev", func() bool { _, err := ev.ReadEV(ctx); return err == nil })
	if err := ev.SetEVPower(ctx, 2000); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "EV set-point held", func() bool { sp, ok := r.mq.evSetpoint(); return ok && sp == 2000 })

	if err := r.Inject(Fault{Device: "meter", Kind: "offline", On: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "meter stale", func() bool { _, err := meter.ReadMeter(ctx); return errors.Is(err, der.ErrStale) })
	_ = r.Inject(Fault{Device: "meter", Kind: "offline"})
	waitFor(t, "meter back", func() bool { _, err := meter.ReadMeter(ctx); return err == nil })

	if err := r.Inject(Fault{Device: "broker", Kind: "down", On: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "client sees the broker gone", func() bool { return !dev.Connected() })
	waitFor(t, "meter stale without a broker", func() bool { _, err := meter.ReadMeter(ctx); return errors.Is(err, der.ErrStale) })
	if err := r.Inject(Fault{Device: "broker", Kind: "down"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "meter back with the broker", func() bool {
		_, err := meter.ReadMeter(ctx)
		return err == nil
	})
}

func TestTruthEndpointAndSpeed(t *testing.T) {
	r := startRig(t, 60)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	// The truth sample is recorded after the plant step, so wait on what the endpoint serves, not on
	// the plant's own clock (which is a step ahead of it for a moment).
	var tr Truth
	waitFor(t, "a minute of plant time per second on /truth", func() bool {
		resp, err := srv.Client().Get(srv.URL + "/truth")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
			t.Fatal(err)
		}
		return !tr.PlantTime.Before(noonPlant().Start.Add(time.Minute))
	})
	if tr.SoC <= 0 {
		t.Fatalf("truth %+v", tr)
	}
	resp, err := srv.Client().Post(srv.URL+"/fault", "application/json", strings.NewReader(`{"device":"inverter","kind":"boil","on":true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad fault: status %d", resp.StatusCode)
	}
	if h := r.History(); len(h) < 10 || !h[0].At.Before(h[len(h)-1].At) {
		t.Fatalf("history of %d samples, not in order", len(h))
	}
}

// BenchmarkRigStep is one plant step with the inverter's registers and the MQTT telemetry updated:
// its cost bounds how fast (--speed, --tick) the rig can run.
func BenchmarkRigStep(b *testing.B) {
	r, err := Start(Config{Plant: noonPlant(), Listen: "127.0.0.1:0", Tick: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	waitFor(b, "publisher connected", r.mq.client.IsConnectionOpen)
	at := r.start
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at = at.Add(100 * time.Millisecond)
		r.step(at)
	}
}

// The controller stamps its snapshot at the start of the cycle and reads the devices after: a
// set-point landing during the reads shows in the plant after the stamp and must still match.
func TestMatchesAcceptsSamplesDuringTheReads(t *testing.T) {
	t0 := time.Date(2026, 6, 21, 12, 0, 0, 0, time.UTC)
	hist := []Truth{
		{At: t0.Add(-150 * time.Millisecond), BatteryPower: -766},
		{At: t0.Add(-50 * time.Millisecond), BatteryPower: -766},
		{At: t0.Add(40 * time.Millisecond), BatteryPower: 1200}, // the new set-point, during the reads
		{At: t0.Add(300 * time.Millisecond), BatteryPower: 900},
	}
	bat := func(tr Truth) float64 { return float64(tr.BatteryPower) }
	const cycle = 100 * time.Millisecond
	for _, c := range []struct {
		value float64
		want  bool
	}{{-766, true}, {1200, true}, {900, false}, {0, false}} {
		if got := Matches(hist, t0, cycle, bat, c.value, 1); got != c.want {
			t.Errorf("Matches %v W: %v, want %v", c.value, got, c.want)
		}
	}
	if !MatchesBetween(hist, t0.Add(-cycle), t0.Add(time.Second), bat, 900, 1) {
		t.Error("a sample before the status fetch did not match")
	}
	if MatchesBetween(hist, t0.Add(-cycle), t0.Add(200*time.Millisecond), bat, 900, 1) {
		t.Error("a sample after the status fetch matched")
	}
}

// The rig as a single-client inverter that drops its connection every few replies and is busy
// now and then: the daemon's gateway (MaxConcurrent 1) polls through all of it, and a second
// client is turned away with an error that says why.
func TestSingleClientInverterThatDropsAndIsBusy(t *testing.T) {
	r, err := Start(Config{Plant: noonPlant(), Listen: "127.0.0.1:0", Tick: 20 * time.Millisecond, ModbusMaxClients: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h, _ := hybrid(t, r)
	ctx := context.Background()
	if err := r.Inject(Fault{Device: "inverter", Kind: "drop", On: true, Value: 3}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		if i%3 == 0 {
			if err := r.Inject(Fault{Device: "inverter", Kind: "busy", On: true, Value: 1}); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.Dev.Poll(ctx); err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
	}
	_ = r.Inject(Fault{Device: "inverter", Kind: "drop"})
	if err := h.Dev.Poll(ctx); err != nil { // holds the one connection from here on
		t.Fatal(err)
	}
	other, err := modbus.NewGateway(modbus.Config{Address: r.ModbusAddr(), Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Unit(InverterUnit).ReadHoldingRegisters(ctx, 40000, 2); !errors.Is(err, modbus.ErrOneClient) {
		t.Errorf("second client: %v, want ErrOneClient", err)
	}
	if err := h.Dev.Poll(ctx); err != nil {
		t.Errorf("poll after the second client was turned away: %v", err)
	}
	if err := r.Inject(Fault{Device: "inverter", Kind: "drop", On: true, Value: 0}); err == nil {
		t.Error("drop after 0 replies accepted")
	}
}

// Model 124's OutWRte is percent of WChaMax (its unit names WDisChaMax, which 124 does not
// define): the client writes a discharge set-point on that base and the rig reads it on the same
// one, so the plant is set to exactly the power asked for.
func TestModel124DischargeRateIsPercentOfWChaMax(t *testing.T) {
	r, err := Start(Config{Plant: noonPlant(), Listen: "127.0.0.1:0", Tick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h, g := hybrid(t, r)
	ctx := context.Background()
	if err := h.Dev.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.SetBatteryPower(ctx, -1200); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "discharge set-point of 1200 W", func() bool {
		tr := r.Truth()
		return tr.BatteryHeld && tr.BatterySetpoint == -1200
	})
	var storage sunspec.Header
	for _, hh := range h.Dev.Headers() {
		if hh.ID == 124 {
			storage = hh
		}
	}
	b, err := sunspec.ReadModel(ctx, g.Unit(InverterUnit), storage)
	if err != nil {
		t.Fatal(err)
	}
	wcha, _ := b.Number("WChaMax")
	out, _ := b.Number("OutWRte")
	if math.Abs(out-1200/wcha*100) > 0.01 {
		t.Errorf("OutWRte %v %%, want 1200 W / WChaMax %v W = %v %%", out, wcha, 1200/wcha*100)
	}
}
