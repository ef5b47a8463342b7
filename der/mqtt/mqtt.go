package mqtt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/clock"
)

// Binding ties one device point or command to a topic. Field is the path of the value inside a
// JSON payload ("value", "data.power"); empty means the payload is the bare number. Scale multiplies
// what is read and divides what is written (1000 for a topic in kW whose point is in W); zero means 1.
type Binding struct {
	Topic string
	Field string
	Scale float64
}

func (b Binding) scale() float64 {
	if b.Scale == 0 {
		return 1
	}
	return b.Scale
}

// Keepalive is a message a device needs periodically to keep publishing (Victron Venus OS stops
// sending N/ topics a minute after the last keepalive).
type Keepalive struct {
	Topic   string
	Payload string
	Every   time.Duration
}

// Mapping is how a device's points and commands map to topics.
type Mapping struct {
	Points   map[string]Binding // point name (see the Point constants) -> telemetry topic
	Commands map[string]Binding // command name (see the Command constants) -> command topic
	// TrustRetained accepts a retained message as a fresh reading. Off, a retained message (which
	// may be hours old) is kept but reads as stale until a live message arrives.
	TrustRetained bool
	Keepalive     *Keepalive
	// StaleAfter is how long a value may go without a new message before it reads as stale, when
	// Config.StaleAfter does not say: devices that publish only on change and republish
	// everything on a keepalive or a timer need it longer than the control cycle, or a steady
	// value goes stale between two republishes. The presets set it from their rhythm.
	StaleAfter time.Duration
}

// Point and command names the der adapters use.
const (
	PVPower           = "pv.power"
	PVAvailable       = "pv.available"
	PVRated           = "pv.rated"
	BatteryPower      = "battery.power" // positive while charging
	BatterySoC        = "battery.soc"   // percent
	BatteryCapacity   = "battery.capacity"
	BatteryMaxCharge  = "battery.max_charge"
	BatteryMaxDischg  = "battery.max_discharge"
	MeterPower        = "meter.power" // positive while importing
	MeterVoltage      = "meter.voltage"
	MeterFrequency    = "meter.frequency"
	CmdPVLimit        = "pv.limit"
	CmdBatterySetting = "battery.setpoint"
	// CmdACInSetpoint is the power the inverter/charger is to draw at its AC input (positive
	// imports), as Victron's ESS mode 3 takes it (Hub4/L1/AcPowerSetpoint): it is not the battery
	// power. Inverter.SetBatteryPower converts a battery target into it (see there).
	CmdACInSetpoint = "acin.setpoint"
	// ACOutPower is the consumption on the inverter's AC output (critical loads), positive drawn.
	ACOutPower = "acout.power"
	// ESSMode is the Venus OS ESS (Hub4) mode; the AC-input set-point is obeyed in mode 3 only.
	ESSMode = "ess.mode"
)

// PointNames and CommandNames are every point and command name the adapters read or send: a
// mapping that names anything else (a typo such as "pv.pwr") would be ignored, so a configuration
// checks its names against these.
var (
	PointNames = []string{ACOutPower, BatteryCapacity, BatteryMaxCharge, BatteryMaxDischg, BatteryPower,
		BatterySoC, ESSMode, EVConnected, EVDeadline, EVDelivered, EVMaxPower, EVNeeded, EVPower,
		LoadDemand, LoadPower, MeterFrequency, MeterPower, MeterPresent, MeterVoltage,
		PVAvailable, PVPower, PVRated}
	CommandNames = []string{CmdACInSetpoint, CmdBatterySetting, CmdEVPower, CmdPVLimit}
)

// connectTimeout bounds one connection attempt: the broker is on the LAN (or the unit itself), so
// an attempt that takes longer has failed and the next one should start.
const connectTimeout = 2 * time.Second

// Config is one MQTT device.
type Config struct {
	Name     string
	Broker   string // tcp://host:port
	ClientID string
	Username string
	Password string
	Mapping  Mapping
	// StaleAfter: a point not updated for this long reads as stale; default Mapping.StaleAfter,
	// else 10 s.
	StaleAfter time.Duration
	// MaxReconnect caps the reconnect back-off (which starts at 1 s and doubles); default 10 s.
	MaxReconnect time.Duration
	Clock        clock.Clock
}

// Device is a device reached over MQTT: it keeps the latest value of every mapped point and
// publishes commands with QoS 1. The paho client reconnects by itself with back-off and the
// subscriptions are renewed on every connect.
type Device struct {
	cfg    Config
	client paho.Client
	stop   chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	values map[string]sample
	topics map[string][]string // topic -> points
}

type sample struct {
	v     float64
	at    time.Time // zero for an untrusted retained message
	valid bool      // false when the device published "no value" (null)
	// implausible is why the reading cannot be true (wraps der.ErrImplausible), nil when plausible.
	implausible error
}

// New prepares a device; Start connects it.
func New(cfg Config) (*Device, error) {
	if cfg.Broker == "" {
		return nil, errors.New("mqtt: broker address is empty")
	}
	if len(cfg.Mapping.Points) == 0 && len(cfg.Mapping.Commands) == 0 {
		return nil, fmt.Errorf("mqtt: device %s maps no points and no commands", cfg.Name)
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = cfg.Mapping.StaleAfter
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 10 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.MaxReconnect <= 0 {
		cfg.MaxReconnect = 10 * time.Second
	}
	d := &Device{cfg: cfg, values: map[string]sample{}, topics: map[string][]string{}, stop: make(chan struct{})}
	for p, b := range cfg.Mapping.Points {
		if b.Topic == "" || strings.ContainsAny(b.Topic, "+#") {
			return nil, fmt.Errorf("mqtt: device %s point %s: topic %q must be a plain topic", cfg.Name, p, b.Topic)
		}
		d.topics[b.Topic] = append(d.topics[b.Topic], p)
	}
	opts := paho.NewClientOptions().AddBroker(cfg.Broker).SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).SetPassword(cfg.Password).
		SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(500 * time.Millisecond).SetMaxReconnectInterval(cfg.MaxReconnect).
		SetConnectTimeout(connectTimeout).SetKeepAlive(15 * time.Second).SetCleanSession(true).
		SetOrderMatters(false).
		SetOnConnectHandler(d.subscribe)
	d.client = paho.NewClient(opts)
	return d, nil
}

// Start connects; with connect-retry on, it returns at once and paho keeps trying in the
// background, so a broker that is down at boot is not fatal.
func (d *Device) Start() {
	d.client.Connect()
	if k := d.cfg.Mapping.Keepalive; k != nil && k.Every > 0 {
		d.wg.Add(1)
		go d.keepalive(k)
	}
}

// Close disconnects and stops the keepalive.
func (d *Device) Close() {
	close(d.stop)
	d.wg.Wait()
	d.client.Disconnect(250)
}

// StaleAfter is how long a value lasts without a new message.
func (d *Device) StaleAfter() time.Duration { return d.cfg.StaleAfter }

// ClientID is the MQTT client id the device connects with.
func (d *Device) ClientID() string { return d.cfg.ClientID }

// Mapping is the device's topic mapping.
func (d *Device) Mapping() Mapping { return d.cfg.Mapping }

// Name is the device's configured name.
func (d *Device) Name() string { return d.cfg.Name }

// Connected reports whether the client is connected to the broker now.
func (d *Device) Connected() bool { return d.client.IsConnectionOpen() }

func (d *Device) subscribe(c paho.Client) {
	filters := map[string]byte{}
	for t := range d.topics {
		filters[t] = 1
	}
	if len(filters) > 0 {
		c.SubscribeMultiple(filters, d.onMessage)
	}
	if k := d.cfg.Mapping.Keepalive; k != nil {
		c.Publish(k.Topic, 0, false, k.Payload) // ask for a full refresh at once
	}
}

func (d *Device) keepalive(k *Keepalive) {
	defer d.wg.Done()
	t := d.cfg.Clock.NewTicker(k.Every)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C():
			if d.client.IsConnectionOpen() {
				d.client.Publish(k.Topic, 0, false, k.Payload)
			}
		}
	}
}

func (d *Device) onMessage(_ paho.Client, m paho.Message) {
	d.handle(m.Topic(), m.Payload(), m.Retained())
}

// handle maps one message to its points; payloads that do not decode are ignored (the point then
// goes stale), never fatal.
func (d *Device) handle(topic string, payload []byte, retained bool) {
	now := d.cfg.Clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.topics[topic] {
		b := d.cfg.Mapping.Points[p]
		v, ok, isBool, err := decode(payload, b.Field)
		if err != nil {
			continue
		}
		s := sample{v: v * b.scale(), valid: ok, at: now}
		if ok {
			s.implausible = plausible(p, s.v, isBool)
		}
		if retained && !d.cfg.Mapping.TrustRetained {
			s.at = time.Time{}
		}
		d.values[p] = s
	}
}

// ErrMissing is returned for a point the device reports as having no value (a null payload).
var ErrMissing = errors.New("mqtt: device reports no value")

// Value returns the latest value of point; the error wraps der.ErrStale when none arrived within
// StaleAfter, and ErrMissing when the device published null.
func (d *Device) Value(point string) (float64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, mapped := d.cfg.Mapping.Points[point]; !mapped {
		return 0, fmt.Errorf("mqtt: device %s has no point %s", d.cfg.Name, point)
	}
	s, ok := d.values[point]
	switch {
	case !ok:
		return 0, fmt.Errorf("mqtt: device %s: no %s received yet: %w", d.cfg.Name, point, der.ErrStale)
	case s.at.IsZero():
		return s.v, fmt.Errorf("mqtt: device %s: %s only known from a retained message: %w", d.cfg.Name, point, der.ErrStale)
	case d.cfg.Clock.Since(s.at) > d.cfg.StaleAfter:
		return s.v, fmt.Errorf("mqtt: device %s: %s last received %v ago: %w", d.cfg.Name, point, d.cfg.Clock.Since(s.at).Round(time.Millisecond), der.ErrStale)
	case !s.valid:
		return 0, fmt.Errorf("mqtt: device %s: %s: %w", d.cfg.Name, point, ErrMissing)
	case s.implausible != nil:
		return 0, fmt.Errorf("mqtt: device %s: %w", d.cfg.Name, s.implausible)
	}
	return s.v, nil
}

// HasPoint reports whether point is mapped.
func (d *Device) HasPoint(point string) bool {
	_, ok := d.cfg.Mapping.Points[point]
	return ok
}

// Command publishes value to the command's topic with QoS 1, never retained (a retained command
// would be replayed to the device long after it was meant), and waits for the broker's ack.
func (d *Device) Command(ctx context.Context, name string, value float64) error {
	b, ok := d.cfg.Mapping.Commands[name]
	if !ok {
		return fmt.Errorf("mqtt: device %s has no command %s", d.cfg.Name, name)
	}
	payload, err := Encode(value/b.scale(), b.Field)
	if err != nil {
		return fmt.Errorf("mqtt: device %s command %s: %w", d.cfg.Name, name, err)
	}
	if !d.client.IsConnectionOpen() {
		return fmt.Errorf("mqtt: device %s command %s: not connected to %s: %w", d.cfg.Name, name, d.cfg.Broker, der.ErrStale)
	}
	tok := d.client.Publish(b.Topic, 1, false, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqtt: device %s command %s: %w", d.cfg.Name, name, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt: device %s command %s: %w", d.cfg.Name, name, ctx.Err())
	}
}

// Decode reads a number from a payload: the bare payload when field is empty ("230.1", "true"),
// else the field of a JSON object, dotted for nested objects. A JSON null reads as ok=false (the
// device says it has no value); anything else that is not a finite number is an error.
func Decode(payload []byte, field string) (v float64, ok bool, err error) {
	v, ok, _, err = decode(payload, field)
	return v, ok, err
}

// decode is Decode that also tells whether the payload was a boolean (true, on, false, off), which
// a point that is a number must not accept.
func decode(payload []byte, field string) (v float64, ok, isBool bool, err error) {
	if len(payload) > 64<<10 {
		return 0, false, false, fmt.Errorf("payload of %d bytes is too large", len(payload))
	}
	if field == "" {
		return scalar(bytes.TrimSpace(payload))
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return 0, false, false, fmt.Errorf("payload is not JSON: %w", err)
	}
	for _, key := range strings.Split(field, ".") {
		obj, isObj := doc.(map[string]any)
		if !isObj {
			return 0, false, false, fmt.Errorf("field %q: payload is not an object at %q", field, key)
		}
		next, found := obj[key]
		if !found {
			return 0, false, false, fmt.Errorf("field %q: no %q in payload", field, key)
		}
		doc = next
	}
	switch x := doc.(type) {
	case nil:
		return 0, false, false, nil
	case json.Number:
		return scalar([]byte(x.String()))
	case bool:
		if x {
			return 1, true, true, nil
		}
		return 0, true, true, nil
	case string:
		return scalar([]byte(strings.TrimSpace(x)))
	}
	return 0, false, false, fmt.Errorf("field %q holds %T, not a number", field, doc)
}

func scalar(b []byte) (v float64, ok, isBool bool, err error) {
	s := string(b)
	switch s {
	case "null", "":
		return 0, false, false, nil
	case "true", "on", "ON":
		return 1, true, true, nil
	case "false", "off", "OFF":
		return 0, true, true, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, false, fmt.Errorf("payload %.40q is not a finite number", s)
	}
	return f, true, false, nil
}

// Encode renders a command value: the bare number when field is empty, else {"field": value}.
func Encode(v float64, field string) ([]byte, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("value %v is not a finite number", v)
	}
	num := strconv.FormatFloat(v, 'f', -1, 64)
	if field == "" {
		return []byte(num), nil
	}
	if strings.Contains(field, ".") {
		return nil, fmt.Errorf("command field %q: nested fields are not supported for commands", field)
	}
	key, _ := json.Marshal(field)
	return []byte("{" + string(key) + ":" + num + "}"), nil
}
