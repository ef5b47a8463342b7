package rig

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fractals-energy/fractals/der/mqtt"
	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/internal/units"
)

// mqttDevices publishes the meter, the EV charger and the load circuits' power and takes the
// charger's set-point, as devices integrated over MQTT do.
type mqttDevices struct {
	plant    *hil.Plant
	prefix   string
	broker   string
	clientID string
	evHold   time.Duration
	// client belongs to the rig's step loop (and to start/close around it). paho's own reconnect
	// brings it back after a broker restart: the broker closes its socket before dropping clients
	// (der/mqtt.Broker.Close), so a redial never lands on a socket that is never served.
	client paho.Client
	// subscribing counts connect handlers still waiting on their subscription, so close can let them
	// finish before it disconnects: a Subscribe cut off by Disconnect leaves paho's goroutine behind.
	subscribing sync.WaitGroup
	closing     bool // guarded by mu

	mu      sync.Mutex
	offline map[string]bool
	ev      held
	now     func() time.Time
	// toWall maps a plant instant to the wall clock the controller lives on (the plant may run
	// faster and start at another time of day).
	toWall func(time.Time) time.Time
}

// Topics of the MQTT devices, relative to the prefix.
func meterTopics(prefix string) map[string]string {
	return map[string]string{mqtt.MeterPower: prefix + "/meter/power", mqtt.MeterVoltage: prefix + "/meter/voltage",
		mqtt.MeterFrequency: prefix + "/meter/frequency", mqtt.MeterPresent: prefix + "/meter/present",
		// The utility side of the PCC, as a synchronising relay senses it (zero while the utility is out).
		mqtt.UtilityVoltage: prefix + "/utility/voltage", mqtt.UtilityFrequency: prefix + "/utility/frequency",
		mqtt.UtilityPhase: prefix + "/utility/phase"}
}

func evTopics(prefix string) map[string]string {
	return map[string]string{mqtt.EVConnected: prefix + "/ev/connected", mqtt.EVPower: prefix + "/ev/power",
		mqtt.EVMaxPower: prefix + "/ev/max_power", mqtt.EVDelivered: prefix + "/ev/delivered",
		mqtt.EVNeeded: prefix + "/ev/needed", mqtt.EVDeadline: prefix + "/ev/deadline"}
}

func evCommandTopic(prefix string) string { return prefix + "/ev/set" }

func loadTopics(prefix string, k hil.LoadKind) map[string]string {
	return map[string]string{mqtt.LoadPower: fmt.Sprintf("%s/load/%d/power", prefix, k),
		mqtt.LoadDemand: fmt.Sprintf("%s/load/%d/demand", prefix, k)}
}

func newMQTTDevices(p *hil.Plant, broker, clientID, prefix string, evHold time.Duration, now func() time.Time) *mqttDevices {
	d := &mqttDevices{plant: p, prefix: prefix, evHold: evHold, offline: map[string]bool{}, now: now,
		broker: broker, clientID: clientID}
	d.client = d.newClient()
	return d
}

func (d *mqttDevices) newClient() paho.Client {
	prefix := d.prefix
	opts := paho.NewClientOptions().AddBroker(d.broker).SetClientID(d.clientID).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetMaxReconnectInterval(time.Second).SetCleanSession(true).SetOrderMatters(false).
		SetOnConnectHandler(func(c paho.Client) {
			d.mu.Lock()
			if d.closing {
				d.mu.Unlock()
				return
			}
			d.subscribing.Add(1)
			d.mu.Unlock()
			defer d.subscribing.Done()
			c.Subscribe(evCommandTopic(prefix), 1, d.onEVCommand).WaitTimeout(2 * time.Second)
		})
	return paho.NewClient(opts)
}

func (d *mqttDevices) start() {
	d.client.Connect()
}

func (d *mqttDevices) close() {
	d.mu.Lock()
	d.closing = true
	d.mu.Unlock()
	d.subscribing.Wait()
	d.client.Disconnect(250)
}

func (d *mqttDevices) setOffline(device string, off bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.offline[device] = off
}

func (d *mqttDevices) isOffline(device string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.offline[device]
}

func (d *mqttDevices) onEVCommand(_ paho.Client, m paho.Message) {
	if d.isOffline("ev") {
		return
	}
	v, ok, err := mqtt.Decode(m.Payload(), "")
	if err != nil || !ok || v < 0 {
		return // a charger ignores a set-point it cannot read
	}
	d.mu.Lock()
	d.ev = held{value: units.Watts(v), active: true, at: d.now(), revert: d.evHold}
	d.mu.Unlock()
}

// hold re-applies the charger's set-point until its timer runs out, then pauses charging.
func (d *mqttDevices) hold(now time.Time) {
	d.mu.Lock()
	ev := d.ev
	if ev.expired(now) {
		d.ev.active = false
		ev.active = false
	}
	d.mu.Unlock()
	if ev.active {
		d.plant.SetEVPower(ev.value)
	} else {
		d.plant.SetEVPower(0)
	}
}

func (d *mqttDevices) evSetpoint() (units.Watts, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ev.value, d.ev.active
}

// publish sends every device's values once (QoS 0, not retained: live telemetry).
func (d *mqttDevices) publish() {
	if !d.client.IsConnectionOpen() {
		return
	}
	num := func(v float64) []byte { return strconv.AppendFloat(nil, v, 'f', -1, 64) }
	flag := func(b bool) []byte {
		if b {
			return []byte("1")
		}
		return []byte("0")
	}
	send := func(topic string, payload []byte) { d.client.Publish(topic, 0, false, payload) }
	if !d.isOffline("meter") {
		g := d.plant.Grid()
		t := meterTopics(d.prefix)
		send(t[mqtt.MeterPower], num(float64(g.Power)))
		send(t[mqtt.MeterVoltage], num(float64(g.Voltage)))
		send(t[mqtt.MeterFrequency], num(float64(g.Frequency)))
		send(t[mqtt.MeterPresent], flag(g.Present))
		u := d.plant.Utility()
		send(t[mqtt.UtilityVoltage], num(float64(u.Voltage)))
		send(t[mqtt.UtilityFrequency], num(float64(u.Frequency)))
		send(t[mqtt.UtilityPhase], num(u.PhaseDeg))
	}
	if !d.isOffline("ev") {
		e := d.plant.EV()
		t := evTopics(d.prefix)
		deadline := 0.0
		if !e.Deadline.IsZero() && d.toWall != nil {
			deadline = float64(d.toWall(e.Deadline).Unix())
		}
		send(t[mqtt.EVConnected], flag(e.Connected))
		send(t[mqtt.EVPower], num(float64(e.Power)))
		send(t[mqtt.EVMaxPower], num(float64(e.MaxPower)))
		send(t[mqtt.EVDelivered], num(float64(e.Delivered)))
		send(t[mqtt.EVNeeded], num(float64(e.Needed)))
		send(t[mqtt.EVDeadline], num(deadline))
	}
	for k := hil.LoadKind(0); k < hil.NumLoads; k++ {
		if d.isOffline(fmt.Sprintf("load%d", k)) {
			continue
		}
		l := d.plant.Load(k)
		t := loadTopics(d.prefix, k)
		send(t[mqtt.LoadPower], num(float64(l.Power)))
		send(t[mqtt.LoadDemand], num(float64(l.Demand)))
	}
}
