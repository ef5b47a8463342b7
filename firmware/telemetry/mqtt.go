package telemetry

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/fractals"
)

// MQTTOptions say where the unit publishes and what it accepts.
type MQTTOptions struct {
	Broker             string // tcp://host:port
	Username, Password string
	Topics             Topics
	Every              time.Duration // state publish period, in unit time
	Version            string        // sw_version in the discovery device
	// Settings, when set, is where the reserve SoC command goes; nil: no command entity is offered.
	Settings *firmware.Settings
	Log      *slog.Logger // nil: silent
}

// MQTT publishes the unit's state as one retained JSON message every Every, with retained Home
// Assistant discovery configs and an availability topic whose last will says offline.
type MQTT struct {
	opts      MQTTOptions
	client    paho.Client
	mailbox   chan map[string]any
	done      chan struct{}
	lastAt    time.Time
	published atomic.Uint64
	dropped   atomic.Uint64
	rejected  atomic.Uint64
	announced atomic.Uint64 // times the unit announced itself (once per connection)
	stop      sync.Once
}

// NewMQTT connects in the background (paho retries until the broker is there) and starts publishing.
func NewMQTT(o MQTTOptions) (*MQTT, error) {
	if o.Topics.Unit == "" || o.Topics.Prefix == "" || o.Topics.Discovery == "" {
		return nil, errors.New("mqtt telemetry: topic prefix, discovery prefix and unit name are required")
	}
	m := &MQTT{opts: o, mailbox: make(chan map[string]any, 1), done: make(chan struct{})}
	t := o.Topics
	opts := paho.NewClientOptions().AddBroker(o.Broker).SetClientID("fractals-"+objectID(t.Unit)).
		SetUsername(o.Username).SetPassword(o.Password).
		SetWill(t.Availability(), "offline", 1, true).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(2 * time.Second).
		SetMaxReconnectInterval(30 * time.Second).SetOrderMatters(false).
		SetOnConnectHandler(m.onConnect)
	m.client = paho.NewClient(opts)
	m.client.Connect() // returns at once with ConnectRetry; onConnect announces the unit
	go m.run()
	return m, nil
}

// onConnect (again after every reconnect) announces the entities, says online and subscribes to the
// command topics.
func (m *MQTT) onConnect(c paho.Client) {
	t := m.opts.Topics
	for _, e := range haEntities {
		if e.component == "number" && m.opts.Settings == nil {
			continue
		}
		c.Publish(t.Config(e), 1, true, discoveryConfig(t, e, m.opts.Version))
	}
	c.Publish(t.Availability(), 1, true, "online").WaitTimeout(5 * time.Second)
	if m.opts.Settings != nil {
		c.Subscribe(t.Set("reserve_soc_pct"), 1, func(_ paho.Client, msg paho.Message) {
			m.command("reserve_soc_pct", msg.Payload())
		}).WaitTimeout(5 * time.Second)
	}
	m.announced.Add(1)
}

// Announced counts the connections on which the unit announced itself (configs, online, commands).
func (m *MQTT) Announced() uint64 { return m.announced.Load() }

// command validates and applies a command; a refused one is logged and counted, never applied.
func (m *MQTT) command(key string, payload []byte) {
	err := m.apply(key, payload)
	if err != nil {
		m.rejected.Add(1)
		if m.opts.Log != nil {
			m.opts.Log.Warn("mqtt command refused", "topic", m.opts.Topics.Set(key), "err", err)
		}
	}
}

func (m *MQTT) apply(key string, payload []byte) error {
	if len(payload) > 64 {
		return fmt.Errorf("%s: payload of %d bytes, want a number", key, len(payload))
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(payload)), 64)
	if err != nil {
		return fmt.Errorf("%s: %q is not a number", key, payload)
	}
	switch key {
	case "reserve_soc_pct":
		return m.opts.Settings.SetReserve(v)
	}
	return fmt.Errorf("%s: no such command", key)
}

// Observe hands the state to the publisher when Every has passed, replacing one not yet sent.
func (m *MQTT) Observe(st *firmware.Status, _ time.Duration) {
	at := st.Snapshot.At
	if !m.lastAt.IsZero() && at.Sub(m.lastAt) < m.opts.Every {
		return
	}
	m.lastAt = at
	payload := statePayload(st, m.opts.Settings)
	select {
	case m.mailbox <- payload:
		return
	default:
	}
	// The publisher is still busy with an older state: the newer one replaces it. Only this goroutine
	// sends, so after taking the old one out the send cannot block.
	select {
	case <-m.mailbox:
		m.dropped.Add(1)
	default:
	}
	m.mailbox <- payload
}

func (m *MQTT) run() {
	defer close(m.done)
	for p := range m.mailbox {
		body, err := json.Marshal(p)
		if err != nil {
			continue // statePayload holds only numbers, strings, bools and nil
		}
		if !m.client.IsConnectionOpen() {
			m.dropped.Add(1)
			continue
		}
		tok := m.client.Publish(m.opts.Topics.State(), 0, true, body)
		if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
			m.published.Add(1)
		} else {
			m.dropped.Add(1)
		}
	}
}

// Stop says offline (retained) and disconnects.
func (m *MQTT) Stop() {
	m.stop.Do(func() {
		close(m.mailbox)
		<-m.done
		if m.client.IsConnectionOpen() {
			m.client.Publish(m.opts.Topics.Availability(), 1, true, "offline").WaitTimeout(2 * time.Second)
		}
		m.client.Disconnect(250)
	})
}

// Published and Dropped count state messages; Rejected counts refused commands.
func (m *MQTT) Published() uint64 { return m.published.Load() }

// Dropped counts state messages not sent (broker unreachable or slow).
func (m *MQTT) Dropped() uint64 { return m.dropped.Load() }

// Rejected counts refused commands.
func (m *MQTT) Rejected() uint64 { return m.rejected.Load() }

// statePayload is the JSON state: keys as in haEntities, null for a value not read good.
func statePayload(st *firmware.Status, settings *firmware.Settings) map[string]any {
	s := &st.Snapshot
	p := map[string]any{"at": s.At.UTC().Format(time.RFC3339), "cycles": st.Cycles}
	watts := func(r fractals.Reading[float64]) any {
		if !r.Good() {
			return nil
		}
		return round1(r.Value)
	}
	p["pv_power_w"] = watts(asFloat(s.PVPower))
	p["battery_power_w"] = watts(asFloat(s.BatteryPower))
	p["grid_power_w"] = watts(asFloat(s.GridPower))
	p["ev_power_w"] = watts(asFloat(s.EVPower))
	p["grid_voltage_v"] = watts(asFloat(s.GridVoltage))
	p["grid_frequency_hz"] = watts(asFloat(s.GridFrequency))
	if s.SoC.Good() {
		p["soc_pct"] = round1(float64(s.SoC.Value) * 100)
	} else {
		p["soc_pct"] = nil
	}
	loads, any := 0.0, false
	for k := range s.Loads {
		if s.Loads[k].Power.Good() {
			loads, any = loads+float64(s.Loads[k].Power.Value), true
		}
	}
	p["loads_power_w"] = nil
	if any {
		p["loads_power_w"] = round1(loads)
	}
	for _, e := range energyOf(&st.Energy) {
		p["energy_"+e.name+"_wh"] = round1(e.value)
	}
	p["mode"] = st.State.Mode.String()
	p["safe_mode"] = st.State.Safe
	p["grid_present"] = s.GridPresent.Good() && s.GridPresent.Value
	if settings != nil {
		p["reserve_soc_pct"] = round1(settings.Reserve())
	}
	return p
}

func asFloat[T ~float64](r fractals.Reading[T]) fractals.Reading[float64] {
	return fractals.Reading[float64]{Value: float64(r.Value), Quality: r.Quality, At: r.At}
}

func round1(x float64) float64 { return float64(int64(x*10+copysign(0.5, x))) / 10 }

func copysign(a, x float64) float64 {
	if x < 0 {
		return -a
	}
	return a
}
