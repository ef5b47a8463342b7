package telemetry

import (
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestDiscoveryThroughMosquitto publishes to a real Mosquitto on 127.0.0.1:1883 (the broker a site
// runs for Home Assistant) and reads the retained configs back with mosquitto_sub; it removes its
// retained messages afterwards.
func TestDiscoveryThroughMosquitto(t *testing.T) {
	sub := peer(t, "mosquitto_sub", "apt-get install -y mosquitto mosquitto-clients")
	const addr = "127.0.0.1:1883"
	if c, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
		t.Skipf("no Mosquitto on %s (apt-get install -y mosquitto; it listens there by default): %v", addr, err)
	} else {
		c.Close()
	}
	unit := fmt.Sprintf("test-%d", time.Now().UnixNano())
	m, err := NewMQTT(MQTTOptions{Broker: "tcp://" + addr, Topics: Topics{Prefix: "fractals-test", Discovery: "homeassistant-test", Unit: unit},
		Every: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clearRetained(t, addr, m.opts.Topics) })
	deadline := time.Now().Add(5 * time.Second)
	for m.Announced() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	d, clk := simDaemon(t)
	d.AddObserver(m)
	tick(d, clk, 1)
	for m.Published() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := subscribeRetained(t, sub, addr, "homeassistant-test/sensor/"+unit+"/#")
	raw, ok := got["homeassistant-test/sensor/"+unit+"/energy_pv_wh/config"]
	if !ok {
		t.Fatalf("no energy config retained on Mosquitto; got %d topics", len(got))
	}
	var c map[string]any
	if err := json.Unmarshal([]byte(raw), &c); err != nil || c["state_class"] != "total_increasing" || c["unit_of_measurement"] != "Wh" {
		t.Fatalf("config %s (%v)", raw, err)
	}
	state := subscribeRetained(t, sub, addr, "fractals-test/"+unit+"/#")
	if state["fractals-test/"+unit+"/availability"] != "online" || state["fractals-test/"+unit+"/state"] == "" {
		t.Fatalf("state topics %v", state)
	}
	d.StopObservers()
}

// clearRetained deletes what the test left retained (an empty retained message removes it).
func clearRetained(t *testing.T, addr string, topics Topics) {
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("cleanup-" + topics.Unit))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Logf("cleanup: %v", tok.Error())
		return
	}
	defer c.Disconnect(100)
	del := []string{topics.State(), topics.Availability()}
	for _, e := range haEntities {
		del = append(del, topics.Config(e))
	}
	for _, topic := range del {
		c.Publish(topic, 1, true, []byte{}).WaitTimeout(2 * time.Second)
	}
}
