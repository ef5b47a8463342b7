package telemetry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fractals-energy/fractals/der/mqtt"
	"github.com/fractals-energy/fractals/firmware"
)

// subscribeRetained reads what the broker holds retained under topic with Mosquitto's own client.
func subscribeRetained(t *testing.T, bin, addr, topic string) map[string]string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	// --retained-only: print what is retained and stop; -W bounds the wait.
	out, err := exec.Command(bin, "-h", host, "-p", port, "-t", topic, "-v", "--retained-only", "-W", "1").Output()
	if err != nil && len(out) == 0 {
		// -W ends with exit status 27 on its timeout; that is how it stops here
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 27 {
			t.Fatalf("mosquitto_sub: %v", err)
		}
	}
	got := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		topic, payload, _ := strings.Cut(sc.Text(), " ")
		got[topic] = payload
	}
	return got
}

// announcedEntities counts the entities m offers: the sensors and the commands it has a target for.
func announcedEntities(m *MQTT) int {
	n := 0
	for _, e := range haEntities {
		if (!e.commandEntity() || m.offers(e.key)) && m.has(e.group) {
			n++
		}
	}
	return n
}

func startMQTT(t *testing.T, broker string, settings *firmware.Settings) *MQTT {
	t.Helper()
	m, err := NewMQTT(MQTTOptions{Broker: broker, Topics: Topics{Prefix: "fractals", Discovery: "homeassistant", Unit: "unit-1"},
		Every: 10 * time.Second, Version: "test", Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for m.Announced() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return m
}

// TestHomeAssistantDiscoveryReadByMosquittoSub publishes through the embedded broker and reads the
// retained discovery configs, state and availability with mosquitto_sub.
func TestHomeAssistantDiscoveryReadByMosquittoSub(t *testing.T) {
	sub := peer(t, "mosquitto_sub", "apt-get install -y mosquitto-clients")
	b, err := mqtt.StartBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	d, clk := simDaemon(t)
	settings := firmware.NewSettings(d.Unit())
	d.AddObserver(settings)
	m := startMQTT(t, b.URL(), settings)
	d.AddObserver(m)
	for i := 0; i < 30; i++ { // states at 1 s, 11 s, 21 s
		tick(d, clk, 1)
		for len(m.mailbox) > 0 {
			time.Sleep(time.Millisecond) // a real cycle is far longer than a local publish
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for m.Published() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if m.Published() != 3 {
		t.Fatalf("%d states published in 30 s of unit time, want 3 (every 10 s)", m.Published())
	}
	configs := subscribeRetained(t, sub, b.Addr(), "homeassistant/#")
	if want := announcedEntities(m); len(configs) != want {
		t.Fatalf("%d retained configs, want %d: %v", len(configs), want, keysOf(configs))
	}
	type config struct {
		Name, UniqueID, StateTopic, DeviceClass, StateClass, Unit, Availability, Command string
		Device                                                                           struct {
			Identifiers []string `json:"identifiers"`
			Name        string   `json:"name"`
		} `json:"device"`
	}
	decode := func(topic string) (c config) {
		raw, ok := configs[topic]
		if !ok {
			t.Fatalf("no retained %s; have %v", topic, keysOf(configs))
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		s := func(k string) string { v, _ := m[k].(string); return v }
		c.Name, c.UniqueID, c.StateTopic = s("name"), s("unique_id"), s("state_topic")
		c.DeviceClass, c.StateClass, c.Unit = s("device_class"), s("state_class"), s("unit_of_measurement")
		c.Availability, c.Command = s("availability_topic"), s("command_topic")
		dev, _ := json.Marshal(m["device"])
		_ = json.Unmarshal(dev, &c.Device)
		return c
	}
	soc := decode("homeassistant/sensor/unit-1/soc_pct/config")
	if soc.DeviceClass != "battery" || soc.StateClass != "measurement" || soc.Unit != "%" || soc.StateTopic != "fractals/unit-1/state" ||
		soc.Availability != "fractals/unit-1/availability" {
		t.Fatalf("soc config %+v", soc)
	}
	pv := decode("homeassistant/sensor/unit-1/pv_power_w/config")
	if pv.DeviceClass != "power" || pv.StateClass != "measurement" || pv.Unit != "W" {
		t.Fatalf("pv config %+v", pv)
	}
	energy := decode("homeassistant/sensor/unit-1/energy_grid_import_wh/config")
	if energy.DeviceClass != "energy" || energy.StateClass != "total_increasing" || energy.Unit != "Wh" {
		t.Fatalf("energy config %+v", energy)
	}
	reserve := decode("homeassistant/number/unit-1/reserve_soc_pct/config")
	if reserve.Command != "fractals/unit-1/set/reserve_soc_pct" {
		t.Fatalf("reserve config %+v", reserve)
	}
	ids := map[string]bool{}
	for topic := range configs {
		c := decode(topic)
		ids[strings.Join(c.Device.Identifiers, ",")] = true
	}
	if len(ids) != 1 || !ids["fractals_unit-1"] {
		t.Fatalf("devices %v: want one device for the unit", ids)
	}

	state := subscribeRetained(t, sub, b.Addr(), "fractals/#")
	if state["fractals/unit-1/availability"] != "online" {
		t.Fatalf("availability %q", state["fractals/unit-1/availability"])
	}
	var payload map[string]any
	if err := json.Unmarshal([]byte(state["fractals/unit-1/state"]), &payload); err != nil {
		t.Fatal(err)
	}
	st := d.Unit().Status()
	// the last state published was the cycle at 21 s; energy only grows, so it is at most now's
	if e := payload["energy_pv_wh"].(float64); e <= 0 || e > float64(st.Energy.PV)+0.1 || payload["mode"] != "connected" {
		t.Fatalf("state %v, status energy %+v", payload, st.Energy)
	}

	// Commands: a valid reserve is applied at the next cycle, an invalid one refused.
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("ha"))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	for _, p := range []string{"150", "banana", "35"} {
		pub.Publish("fractals/unit-1/set/reserve_soc_pct", 1, false, p).WaitTimeout(2 * time.Second)
	}
	deadline = time.Now().Add(5 * time.Second)
	for (m.Rejected() < 2 || settings.Reserve() != 35) && time.Now().Before(deadline) {
		tick(d, clk, 1)
		time.Sleep(10 * time.Millisecond)
	}
	if m.Rejected() != 2 || settings.Reserve() < 34.99 || settings.Reserve() > 35.01 {
		t.Fatalf("rejected %d, reserve %v %%", m.Rejected(), settings.Reserve())
	}
	d.StopObservers()
	if got := subscribeRetained(t, sub, b.Addr(), "fractals/unit-1/availability"); got["fractals/unit-1/availability"] != "offline" {
		t.Fatalf("after stop: %v", got)
	}
}

// TestLastWillSaysOffline cuts the unit's TCP connection without an MQTT goodbye (as a crash or a
// dead radio link does): the broker publishes the retained will, offline.
func TestLastWillSaysOffline(t *testing.T) {
	sub := peer(t, "mosquitto_sub", "apt-get install -y mosquitto-clients")
	b, err := mqtt.StartBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	link := newCuttableLink(t, b.Addr())
	m := startMQTT(t, "tcp://"+link.addr(), nil)
	defer m.client.Disconnect(0)
	if got := subscribeRetained(t, sub, b.Addr(), "fractals/unit-1/availability"); got["fractals/unit-1/availability"] != "online" {
		t.Fatalf("online: %v", got)
	}
	link.cut()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got := subscribeRetained(t, sub, b.Addr(), "fractals/unit-1/availability"); got["fractals/unit-1/availability"] == "offline" {
			return
		}
	}
	t.Fatal("no offline will after the link was cut")
}

// cuttableLink relays TCP to a broker until cut, then refuses new connections.
type cuttableLink struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCuttableLink(t *testing.T, target string) *cuttableLink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &cuttableLink{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			l.mu.Lock()
			l.conns = append(l.conns, c, up)
			l.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(l.cut)
	return l
}

func (l *cuttableLink) addr() string { return l.ln.Addr().String() }

func (l *cuttableLink) cut() {
	l.ln.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
