package mqtt

import (
	"context"
	"errors"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/clock"
	"testing"
	"time"
)

func TestChargerLoadMeterAndMeterPresent(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	cmds := listen(t, b.URL(), "rig/ev/set")
	points := map[string]Binding{}
	for _, p := range []string{EVConnected, EVPower, EVMaxPower, EVDelivered, EVNeeded, EVDeadline, LoadPower, LoadDemand,
		MeterPower, MeterVoltage, MeterFrequency, MeterPresent} {
		points[p] = Binding{Topic: "rig/" + p}
	}
	dev, err := New(Config{Name: "rig", Broker: b.URL(), ClientID: "devices-test", StaleAfter: time.Second,
		Mapping: Mapping{Points: points, Commands: map[string]Binding{CmdEVPower: {Topic: "rig/ev/set", Field: "w"}}}})
	if err != nil {
		t.Fatal(err)
	}
	dev.Start()
	defer dev.Close()
	waitFor(t, "connect", dev.Connected)
	values := map[string]string{EVConnected: "1", EVPower: "3600", EVMaxPower: "7400", EVDelivered: "1200",
		EVNeeded: "10000", EVDeadline: "1782043200", LoadPower: "35.5", LoadDemand: "40",
		MeterPower: "-800", MeterVoltage: "230", MeterFrequency: "49.6", MeterPresent: "0"}
	publish := func() {
		for p, v := range values {
			if err := b.Publish("rig/"+p, []byte(v), false, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	ch := &Charger{Dev: dev}
	// Connected comes before the subscriptions are in place: publish until they arrive.
	waitFor(t, "EV values", func() bool { publish(); _, err := ch.ReadEV(ctx); return err == nil })
	ev, _ := ch.ReadEV(ctx)
	if !ev.Connected || ev.Power != 3600 || ev.MaxPower != 7400 || ev.Delivered != 1200 || ev.Needed != 10000 ||
		ev.Deadline.Unix() != 1782043200 {
		t.Fatalf("EV %+v", ev)
	}
	lm := &LoadMeter{Dev: dev}
	waitFor(t, "load values", func() bool { _, _, err := lm.ReadLoadPower(ctx); return err == nil })
	if p, d, _ := lm.ReadLoadPower(ctx); p != 35.5 || d != 40 {
		t.Fatalf("load %v %v", p, d)
	}
	inv := &Inverter{Dev: dev, NominalVoltage: 230, NominalFrequency: 50}
	waitFor(t, "meter values", func() bool { _, err := inv.ReadMeter(ctx); return err == nil })
	if m, _ := inv.ReadMeter(ctx); m.GridPresent || m.Power != -800 {
		t.Fatalf("an island's own 230 V / 49.6 Hz must not read as the utility when meter.present says 0: %+v", m)
	}
	if err := ch.SetEVPower(ctx, 2200); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "EV command", func() bool { return len(cmds.got()) == 1 })
	if got := string(cmds.got()[0].Payload()); got != `{"w":2200}` {
		t.Fatalf("EV command payload %s", got)
	}
	if err := ch.SetEVPower(ctx, -1); err == nil {
		t.Fatal("negative EV power accepted")
	}
}

// A PV inverter whose rating is known neither from the device nor from the configuration must not
// report a rating of 0 W as a good reading.
func TestPVRatingUnknownIsNotZero(t *testing.T) {
	dev, err := New(Config{Name: "dtu", Broker: "tcp://127.0.0.1:1", Mapping: Mapping{Points: map[string]Binding{
		PVPower: {Topic: "dtu/power"}, PVRated: {Topic: "dtu/rated"}}}})
	if err != nil {
		t.Fatal(err)
	}
	dev.handle("dtu/power", []byte("250"), false)
	inv := &Inverter{Dev: dev}
	if st, err := inv.ReadPV(context.Background()); !errors.Is(err, ErrRatingUnknown) || !errors.Is(err, der.ErrStale) {
		t.Fatalf("reading %+v, %v: want ErrRatingUnknown while the rating is unknown", st, err)
	}
	inv.PVRated = 600
	if st, err := inv.ReadPV(context.Background()); err != nil || st.Rated != 600 || st.Power != 250 {
		t.Fatalf("configured rating: %+v, %v", st, err)
	}
	dev.handle("dtu/rated", []byte("700"), false)
	if st, err := inv.ReadPV(context.Background()); err != nil || st.Rated != 700 {
		t.Fatalf("published rating: %+v, %v", st, err)
	}
}

// Venus OS publishes a value only when it changes plus a full republish per keepalive (30 s), and
// OpenDTU every 5 s: a steady value must stay fresh between two republishes, whatever the cycle.
func TestPresetValuesStayFreshBetweenRepublishes(t *testing.T) {
	for _, c := range []struct {
		name          string
		m             Mapping
		point, topic  string
		fresh, staleT time.Duration
	}{
		{"victron", Victron("c0", 276), BatterySoC, "N/c0/system/0/Dc/Battery/Soc", 55 * time.Second, 61 * time.Second},
		{"opendtu", OpenDTU("solar/", "1141"), PVPower, "solar/1141/0/power", 14 * time.Second, 16 * time.Second},
	} {
		clk := clock.NewSim(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		dev, err := New(Config{Name: c.name, Broker: "tcp://127.0.0.1:1", Mapping: c.m, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		payload := []byte("42")
		if c.name == "victron" {
			payload = []byte(`{"value": 42}`)
		}
		dev.handle(c.topic, payload, false)
		clk.Advance(c.fresh)
		if v, err := dev.Value(c.point); err != nil || v != 42 {
			t.Errorf("%s: %v after the last message: %v, %v; want still fresh", c.name, c.fresh, v, err)
		}
		clk.Advance(c.staleT - c.fresh)
		if _, err := dev.Value(c.point); !errors.Is(err, der.ErrStale) {
			t.Errorf("%s: %v after the last message: %v, want stale", c.name, c.staleT, err)
		}
	}
}
