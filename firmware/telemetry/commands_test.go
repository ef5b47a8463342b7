package telemetry

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der/mqtt"
	"github.com/fractals-energy/fractals/fractals"
)

// TestIslandAndEVModeEntitiesThroughMosquittoClients reads the planned-island switch and EV-mode select
// configs with mosquitto_sub, commands them with mosquitto_pub as Home Assistant would, and checks the
// controller's state follows the valid commands and ignores the invalid ones.
func TestIslandAndEVModeEntitiesThroughMosquittoClients(t *testing.T) {
	sub := peer(t, "mosquitto_sub", "apt-get install -y mosquitto-clients")
	pub := peer(t, "mosquitto_pub", "apt-get install -y mosquitto-clients")
	b, err := mqtt.StartBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	d, clk := simDaemon(t)
	m, err := NewMQTT(MQTTOptions{Broker: b.URL(), Topics: Topics{Prefix: "fractals", Discovery: "homeassistant", Unit: "unit-1"},
		Every: time.Second, Version: "test", Unit: d.Unit()})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "announcement", func() bool { return m.Announced() > 0 })
	d.AddObserver(m)
	defer d.StopObservers()

	configs := subscribeRetained(t, sub, b.Addr(), "homeassistant/#")
	var sw, sel map[string]any
	if json.Unmarshal([]byte(configs["homeassistant/switch/unit-1/planned_island/config"]), &sw) != nil ||
		sw["command_topic"] != "fractals/unit-1/set/planned_island" || sw["payload_on"] != "ON" {
		t.Fatalf("planned island switch config %v; have %v", sw, keysOf(configs))
	}
	if json.Unmarshal([]byte(configs["homeassistant/select/unit-1/ev_mode/config"]), &sel) != nil ||
		sel["command_topic"] != "fractals/unit-1/set/ev_mode" || len(sel["options"].([]any)) != 3 {
		t.Fatalf("EV mode select config %v", sel)
	}
	if _, ok := configs["homeassistant/number/unit-1/reserve_soc_pct/config"]; ok {
		t.Fatal("reserve number announced without settings to take it")
	}

	host, port, _ := strings.Cut(b.Addr(), ":")
	send := func(key, payload string) {
		out, err := exec.Command(pub, "-h", host, "-p", port, "-q", "1", "-t", "fractals/unit-1/set/"+key, "-m", payload).CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_pub %s %s: %v %s", key, payload, err, out)
		}
	}
	// Invalid first: refused, nothing changes.
	send("planned_island", "maybe")
	send("ev_mode", "turbo")
	waitFor(t, "two refusals", func() bool { return m.Rejected() == 2 })
	tick(d, clk, 1)
	if st := d.Unit().Status().State; st.Island.Planned || st.EVMode != fractals.EVByDeadline {
		t.Fatalf("invalid commands changed the state: planned %v, EV %v", st.Island.Planned, st.EVMode)
	}
	send("ev_mode", "off")
	send("planned_island", "ON")
	waitFor(t, "commands applied", func() bool {
		tick(d, clk, 1)
		st := d.Unit().Status().State
		return st.Island.Planned && st.EVMode == fractals.EVOff && st.Island.Phase != fractals.PhaseConnected
	})
	// The state topic says what is in force, as the switch and select read it.
	waitFor(t, "state published", func() bool {
		tick(d, clk, 1)
		var p map[string]any
		raw := subscribeRetained(t, sub, b.Addr(), "fractals/unit-1/state")["fractals/unit-1/state"]
		return json.Unmarshal([]byte(raw), &p) == nil && p["planned_island"] == true && p["ev_mode"] == "off" &&
			p["island_phase"] != "connected"
	})
	send("planned_island", "OFF")
	send("ev_mode", "now")
	waitFor(t, "withdrawn", func() bool {
		tick(d, clk, 1)
		st := d.Unit().Status().State
		return !st.Island.Planned && st.EVMode == fractals.EVNow
	})
	if m.Rejected() != 2 {
		t.Fatalf("rejected %d, want 2", m.Rejected())
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
