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
	// Unit, when set, takes the planned-island and EV-mode commands; nil: those entities are not offered.
	Unit CommandTarget
	Log  *slog.Logger // nil: silent
	// Daemon, when set, adds its mesh, ledger and market figures to the state (and their entities
	// to the discovery when it has them).
	Daemon *firmware.Daemon
}

// CommandTarget takes the planned-island and EV-mode commands (a *firmware.Unit).
type CommandTarget interface {
	RequestIsland(on bool)
	SetEVMode(mode string) error
	Commands() firmware.Commands
}

// MQTT publishes the unit's state as one retained JSON message every Every, with retained Home
// Assistant discovery configs and an availability topic whose last will says offline.
type MQTT struct {
	opts      MQTTOptions
	client    paho.Client
	mailbox   chan stateMsg
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
	m := &MQTT{opts: o, mailbox: make(chan stateMsg, 1), done: make(chan struct{})}
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
		if e.commandEntity() && !m.offers(e.key) || !m.has(e.group) {
			continue
		}
		c.Publish(t.Config(e), 1, true, discoveryConfig(t, e, m.opts.Version))
	}
	c.Publish(t.Availability(), 1, true, "online").WaitTimeout(5 * time.Second)
	for _, key := range []string{"reserve_soc_pct", "planned_island", "ev_mode"} {
		if !m.offers(key) {
			continue
		}
		c.Subscribe(t.Set(key), 1, func(_ paho.Client, msg paho.Message) {
			m.command(key, msg.Payload())
		}).WaitTimeout(5 * time.Second)
	}
	m.announced.Add(1)
}

// offers says whether the command key has somewhere to go.
func (m *MQTT) offers(key string) bool {
	if key == "reserve_soc_pct" {
		return m.opts.Settings != nil
	}
	return m.opts.Unit != nil
}

// has says whether the unit has the figures of an entity group ("" is every unit's).
func (m *MQTT) has(group string) bool {
	d := m.opts.Daemon
	switch {
	case group == "":
		return true
	case d == nil:
		return false
	case group == "mesh":
		_, ok := d.MeshView()
		return ok
	case group == "ledger":
		_, ok := d.LedgerTotals()
		return ok
	}
	return false
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
		return fmt.Errorf("%s: payload of %d bytes, too long for a command", key, len(payload))
	}
	if !m.offers(key) {
		return fmt.Errorf("%s: no such command", key)
	}
	text := strings.TrimSpace(string(payload))
	switch key {
	case "reserve_soc_pct":
		v, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not a number", key, payload)
		}
		return m.opts.Settings.SetReserve(v)
	case "planned_island":
		switch text {
		case "ON":
			m.opts.Unit.RequestIsland(true)
		case "OFF":
			m.opts.Unit.RequestIsland(false)
		default:
			return fmt.Errorf("%s: %q is not ON or OFF", key, payload)
		}
		return nil
	case "ev_mode":
		return m.opts.Unit.SetEVMode(text)
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
	if m.opts.Unit != nil {
		c := m.opts.Unit.Commands()
		payload["planned_island"], payload["ev_mode"] = c.PlannedIsland, c.EVMode
	}
	msg := stateMsg{payload: payload, schedule: st.State.Schedule}
	select {
	case m.mailbox <- msg:
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
	m.mailbox <- msg
}

// stateMsg is a state on its way to the publisher; the mesh and ledger figures are added there,
// off the control loop.
type stateMsg struct {
	payload  map[string]any
	schedule fractals.Schedule
}

func (m *MQTT) run() {
	defer close(m.done)
	for msg := range m.mailbox {
		p := msg.payload
		addCommunity(p, figuresOf(m.opts.Daemon, &firmware.Status{State: fractals.State{Schedule: msg.schedule}}))
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
	p["island_phase"] = st.State.Island.Phase.String()
	p["grid_present"] = s.GridPresent.Good() && s.GridPresent.Value
	if settings != nil {
		p["reserve_soc_pct"] = round1(settings.Reserve())
	}
	return p
}

// addCommunity puts the mesh, ledger and market figures into the state as mesh_<field>,
// ledger_<field> and market_<field>; the market's are null while no commitment is set.
func addCommunity(p map[string]any, f communityFigures) {
	for _, g := range []struct {
		prefix string
		fields map[string]any
	}{{"mesh_", f.mesh}, {"ledger_", f.ledger}} {
		for k, v := range g.fields {
			p[g.prefix+k] = v
		}
	}
	p["market_net_exchange_w"], p["market_ev_w"] = nil, nil
	if f.market != nil {
		p["market_net_exchange_w"], p["market_ev_w"] = f.market["net_exchange_w"], f.market["ev_w"]
	}
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
