package mqtt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/goleak"

	"github.com/fractals-energy/fractals/der"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startBroker(t *testing.T, addr string) *Broker {
	t.Helper()
	b, err := StartBroker(addr)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: clients registered later disconnect before the broker stops.
	t.Cleanup(func() { b.Close() })
	return b
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// listener subscribes to filter with a separate client and collects what arrives.
type listener struct {
	mu   sync.Mutex
	msgs []paho.Message
	c    paho.Client
}

func listen(t *testing.T, broker, filter string) *listener {
	t.Helper()
	l := &listener{}
	l.c = paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("listener-" + t.Name() + "-" + filter).SetAutoReconnect(false))
	if tok := l.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("listener connect: %v", tok.Error())
	}
	tok := l.c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		l.mu.Lock()
		l.msgs = append(l.msgs, m)
		l.mu.Unlock()
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { l.c.Disconnect(100) })
	return l
}

func (l *listener) got() []paho.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]paho.Message(nil), l.msgs...)
}

func TestVictronOverEmbeddedBroker(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	m := Victron("c0619ab1", 276)
	m.Keepalive.Every = 50 * time.Millisecond
	keep := listen(t, b.URL(), "R/c0619ab1/keepalive")
	writes := listen(t, b.URL(), "W/c0619ab1/#")
	dev, err := New(Config{Name: "venus", Broker: b.URL(), ClientID: "fractals-test", Mapping: m, StaleAfter: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	dev.Start()
	defer dev.Close()
	waitFor(t, "connect", dev.Connected)
	waitFor(t, "keepalives", func() bool { return len(keep.got()) >= 2 })

	inv := &Inverter{Dev: dev, Capacity: 10000, MaxCharge: 3000, MaxDischarge: 3000}
	ctx := context.Background()
	pub := func(path, payload string, retain bool) {
		if err := b.Publish("N/c0619ab1/"+path, []byte(payload), retain, 0); err != nil {
			t.Fatal(err)
		}
	}
	pub("system/0/Dc/Battery/Soc", `{"value": 71.5}`, false)
	pub("system/0/Dc/Battery/Power", `{"value": -420}`, false)
	pub("system/0/Ac/Grid/L1/Power", `{"value": 1200}`, false)
	pub("vebus/276/Ac/ActiveIn/L1/V", `{"value": 231.2}`, false)
	pub("vebus/276/Ac/ActiveIn/L1/F", `{"value": 50.02}`, false)
	waitFor(t, "battery values", func() bool { _, err := inv.ReadBattery(ctx); return err == nil })
	bat, _ := inv.ReadBattery(ctx)
	if bat.SoC != 0.715 || bat.Power != -420 {
		t.Errorf("battery %+v", bat)
	}
	waitFor(t, "meter values", func() bool { _, err := inv.ReadMeter(ctx); return err == nil })
	met, _ := inv.ReadMeter(ctx)
	if met.Power != 1200 || met.Frequency != 50.02 || !met.GridPresent {
		t.Errorf("meter %+v", met)
	}

	// Venus publishes null when a value is unavailable: missing, not zero.
	pub("system/0/Dc/Battery/Soc", `{"value": null}`, false)
	waitFor(t, "null SoC", func() bool { _, err := dev.Value(BatterySoC); return errors.Is(err, ErrMissing) })

	// The battery set-point becomes the Multi's AC-input set-point (ESS mode 3): the battery's
	// 1500 W plus the 800 W the AC-out loads take minus the 300 W the DC PV gives.
	if err := inv.SetBatteryPower(ctx, 1500); err == nil {
		t.Error("set-point written without the AC-out consumption")
	}
	pub("settings/0/Settings/CGwacs/Hub4Mode", `{"value": 1}`, false)
	pub("system/0/Ac/ConsumptionOnOutput/L1/Power", `{"value": 800}`, false)
	pub("system/0/Dc/Pv/Power", `{"value": 300}`, false)
	waitFor(t, "AC-out and PV values", func() bool { _, err := inv.ACInTarget(0); return err != nil && strings.Contains(err.Error(), "mode 1") })
	pub("settings/0/Settings/CGwacs/Hub4Mode", `{"value": 3}`, false)
	waitFor(t, "ESS mode 3", func() bool { _, err := inv.ACInTarget(0); return err == nil })
	// Commands: QoS 1, not retained, {"value": x}.
	if err := inv.SetBatteryPower(ctx, 1500); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "set-point", func() bool { return len(writes.got()) == 1 })
	w := writes.got()[0]
	if w.Topic() != "W/c0619ab1/vebus/276/Hub4/L1/AcPowerSetpoint" || string(w.Payload()) != `{"value":2000}` || w.Retained() {
		t.Errorf("command %s %s retained=%v", w.Topic(), w.Payload(), w.Retained())
	}

	// A topic that goes quiet goes stale.
	time.Sleep(350 * time.Millisecond)
	if _, err := inv.ReadBattery(ctx); !errors.Is(err, der.ErrStale) {
		t.Errorf("quiet topic: %v, want ErrStale", err)
	}
}

func TestRetainedAndReconnect(t *testing.T) {
	b, err := StartBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	// A retained value published before the device subscribes is old news for Victron...
	if err := b.Publish("N/p/system/0/Dc/Battery/Soc", []byte(`{"value": 40}`), true, 0); err != nil {
		t.Fatal(err)
	}
	dev, err := New(Config{Name: "venus", Broker: "tcp://" + addr, ClientID: "retained", Mapping: Victron("p", 276),
		StaleAfter: time.Minute, MaxReconnect: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	dev.Start()
	defer dev.Close() // before the second broker's cleanup: a client whose broker vanishes keeps reconnecting
	waitFor(t, "retained value", func() bool {
		v, err := dev.Value(BatterySoC)
		return v == 40 && errors.Is(err, der.ErrStale)
	})
	// ...until a live message arrives.
	b.Publish("N/p/system/0/Dc/Battery/Soc", []byte(`{"value": 41}`), false, 0)
	waitFor(t, "live value", func() bool { v, err := dev.Value(BatterySoC); return err == nil && v == 41 })

	// Broker down: commands fail as stale; back on the same address: the device reconnects and
	// resubscribes by itself.
	b.Close()
	waitFor(t, "disconnect", func() bool { return !dev.Connected() })
	if err := dev.Command(context.Background(), CmdACInSetpoint, 100); !errors.Is(err, der.ErrStale) {
		t.Errorf("command while the broker is down: %v", err)
	}
	b2 := startBroker(t, addr)
	waitFor(t, "reconnect", dev.Connected)
	waitFor(t, "value after reconnect", func() bool {
		b2.Publish("N/p/system/0/Dc/Battery/Soc", []byte(`{"value": 42}`), false, 0)
		v, err := dev.Value(BatterySoC)
		return err == nil && v == 42
	})
}

// TestOpenDTUWithMosquitto runs against the Mosquitto broker of the machine (127.0.0.1:1883) with
// mosquitto_pub and mosquitto_sub as the peers; it skips only when no Mosquitto is reachable.
func TestOpenDTUWithMosquitto(t *testing.T) {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:1883", time.Second)
	if err != nil {
		t.Skip("no Mosquitto on 127.0.0.1:1883")
	}
	conn.Close()
	for _, tool := range []string{"mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	serial := fmt.Sprintf("1161%08d", time.Now().UnixNano()%1e8) // unique per run on a shared broker
	dev, err := New(Config{Name: "dtu", Broker: "tcp://127.0.0.1:1883", ClientID: "fractals-" + serial,
		Mapping: OpenDTU("solar/", serial), StaleAfter: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dev.Start()
	defer dev.Close()
	waitFor(t, "connect", dev.Connected)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub := exec.CommandContext(ctx, "mosquitto_sub", "-h", "127.0.0.1", "-p", "1883", "-q", "1", "-C", "1", "-W", "8",
		"-t", "solar/"+serial+"/cmd/limit_nonpersistent_absolute")
	var subOut strings.Builder
	sub.Stdout = &subOut
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	inv := &Inverter{Dev: dev, PVRated: 800}
	waitFor(t, "power from mosquitto_pub", func() bool {
		out, err := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", "1883", "-t", "solar/"+serial+"/0/power", "-m", "612.4").CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, out)
		}
		pv, err := inv.ReadPV(ctx)
		return err == nil && pv.Power == 612.4
	})
	time.Sleep(200 * time.Millisecond) // let mosquitto_sub subscribe
	if err := inv.SetPVLimit(ctx, 400); err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v", err)
	}
	if got := strings.TrimSpace(subOut.String()); got != "400" {
		t.Errorf("mosquitto_sub got %q, want 400", got)
	}
}

func TestDecodePayloads(t *testing.T) {
	cases := []struct {
		payload, field string
		v              float64
		ok, err        bool
	}{
		{"230.1", "", 230.1, true, false},
		{" 12 \n", "", 12, true, false},
		{`{"value": 5}`, "value", 5, true, false},
		{`{"value": null}`, "value", 0, false, false},
		{`{"value": "7.5"}`, "value", 7.5, true, false},
		{`{"value": true}`, "value", 1, true, false},
		{`{"data": {"power": 3}}`, "data.power", 3, true, false},
		{`{"value": [1]}`, "value", 0, false, true},
		{`{"other": 1}`, "value", 0, false, true},
		{`not json`, "value", 0, false, true},
		{"NaN", "", 0, false, true},
		{"1e999", "", 0, false, true},
		{"abc", "", 0, false, true},
	}
	for _, c := range cases {
		v, ok, err := Decode([]byte(c.payload), c.field)
		if (err != nil) != c.err || ok != c.ok || (ok && v != c.v) {
			t.Errorf("Decode(%q, %q) = %v %v %v", c.payload, c.field, v, ok, err)
		}
	}
	if p, _ := Encode(-250.5, "value"); string(p) != `{"value":-250.5}` {
		t.Errorf("Encode %s", p)
	}
	if _, err := Encode(1, "a.b"); err == nil {
		t.Error("nested command field accepted")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"value": 5}`), "value")
	f.Add([]byte(`{"data": {"power": 3}}`), "data.power")
	f.Add([]byte("230.1"), "")
	f.Add([]byte(`{"value": null}`), "value")
	f.Fuzz(func(t *testing.T, payload []byte, field string) {
		v, ok, err := Decode(payload, field)
		if err == nil && ok && (v != v || v > 1e308 || v < -1e308) {
			t.Fatalf("non-finite value %v from %q", v, payload)
		}
		if err != nil && ok {
			t.Fatal("ok together with an error")
		}
	})
}

// A sleeping OpenDTU inverter's last reading stays retained on the broker: after a (re)connect it
// is stale until OpenDTU publishes a live value, unless the mapping trusts retained messages.
func TestOpenDTURetainedIsStaleUntilLive(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	if err := b.Publish("solar/116/0/power", []byte("612.5"), true, 0); err != nil {
		t.Fatal(err)
	}
	for _, trust := range []bool{false, true} {
		m := OpenDTU("solar/", "116")
		m.TrustRetained = trust
		dev, err := New(Config{Name: "dtu", Broker: "tcp://" + b.Addr(), ClientID: fmt.Sprintf("dtu-%v", trust), Mapping: m,
			StaleAfter: time.Minute, MaxReconnect: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		dev.Start()
		waitFor(t, "retained value", func() bool { v, _ := dev.Value(PVPower); return v == 612.5 })
		if _, err := dev.Value(PVPower); errors.Is(err, der.ErrStale) == trust {
			t.Errorf("trust retained %v: retained value read with %v", trust, err)
		}
		if !trust {
			b.Publish("solar/116/0/power", []byte("0"), true, 0) // OpenDTU publishes retained, live
			waitFor(t, "live value", func() bool { v, err := dev.Value(PVPower); return err == nil && v == 0 })
		}
		dev.Close()
		b.Publish("solar/116/0/power", []byte("612.5"), true, 0)
	}
}
