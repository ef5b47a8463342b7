package firmware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/gpio"
	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/der/mqtt"
	"github.com/fractals-energy/fractals/der/sunspec"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

// Hardware is a unit's real devices as built from its configuration: the controller's view of them
// and everything that must be closed when the daemon stops.
type Hardware struct {
	Devices fractals.Devices
	// The unit's own services, nil when the file names none; ApplyServiceStep commands them.
	AccessPoint der.AccessPoint
	StorageNode der.StorageNode
	services    []interface{ Close() error }

	gateways []*modbus.Gateway
	mqtts    []*mqtt.Device
	remote   *gpio.Remote
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// Close stops the input samplers and closes every connection.
func (h *Hardware) Close() error {
	if h.cancel != nil {
		h.cancel()
	}
	h.wg.Wait()
	var errs []error
	for _, d := range h.mqtts {
		d.Close()
	}
	for _, g := range h.gateways {
		errs = append(errs, g.Close())
	}
	if h.remote != nil {
		errs = append(errs, h.remote.Close())
	}
	for _, s := range h.services {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// Defaults for device settings the configuration leaves out.
const (
	// DefaultRevert is the revert timer written with SunSpec controls: well above the writer's 15 s
	// refresh, so a live controller never lets it lapse and a dead one is undone within a minute.
	DefaultRevert = time.Minute
	// DefaultVebusInstance is the VE.Bus instance of a Victron Multi when the file does not say.
	DefaultVebusInstance = 276
	// slowEvery is how often (in polls) slow SunSpec models are read when the configuration says not.
	slowEvery = 60
)

// ControllerConfig is the controller's site configuration for a unit: the defaults of the standard
// MeshBox++ unit, overridden by the file's site section.
func ControllerConfig(u *config.Unit) fractals.Config {
	c := fractals.DefaultConfig()
	c.Cycle = u.Cycle
	c.StaleLimit = max(c.StaleLimit, 2*u.Cycle)
	s := u.Site
	if s == nil {
		c.Protection = config.ProtectionFor(u.Protection, c.NominalFrequency, c.ReconnectDelay)
		return c
	}
	if s.StaleLimit > 0 {
		c.StaleLimit = s.StaleLimit
	}
	setIf := func(dst *units.Watts, v float64) {
		if v > 0 {
			*dst = units.Watts(v)
		}
	}
	if s.BatteryCapacity > 0 {
		c.BatteryCapacity = units.WattHours(s.BatteryCapacity)
	}
	setIf(&c.BatteryMaxCharge, s.BatteryMaxCharge)
	setIf(&c.BatteryMaxDischarge, s.BatteryMaxDischarge)
	if s.SoCMin != nil {
		c.SoCMin = units.Fraction(*s.SoCMin)
	}
	if s.SoCMax != nil {
		c.SoCMax = units.Fraction(*s.SoCMax)
	}
	if s.Reserve != nil {
		c.Reserve = units.Fraction(*s.Reserve)
	}
	if s.MaxImport != nil {
		c.MaxImport = units.Watts(*s.MaxImport)
	}
	if s.MaxExport != nil {
		c.MaxExport = units.Watts(*s.MaxExport)
	}
	if s.NominalVoltage > 0 {
		c.NominalVoltage = units.Volts(s.NominalVoltage)
	}
	if s.NominalFrequency > 0 {
		c.NominalFrequency = units.Hertz(s.NominalFrequency)
	}
	if s.ReconnectDelay != nil {
		c.ReconnectDelay = *s.ReconnectDelay
	}
	c.Protection = config.ProtectionFor(u.Protection, c.NominalFrequency, c.ReconnectDelay)
	return c
}

// NewDeviceDaemon builds a daemon that runs the unit described by u against its real devices. The
// returned Hardware must be closed after the daemon stops.
func NewDeviceDaemon(u *config.Unit, clk clock.Clock, log *slog.Logger) (*Daemon, *Hardware, error) {
	cc := ControllerConfig(u)
	if err := cc.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%s: site: %w", u.Name, err)
	}
	hw, err := OpenDevices(u, cc, clk, log)
	if err != nil {
		return nil, nil, err
	}
	// The controller islands the unit when it cannot see the utility, so the first cycle must not run
	// before the meter has been heard: wait (boundedly) for every device to answer once.
	if err := hw.WaitReady(context.Background(), bootWait); err != nil && log != nil {
		log.Warn("starting with devices not ready", "err", err)
	}
	unit, err := NewUnit(cc, fractals.DefaultWriterConfig(), hw.Devices, clk, log)
	if err != nil {
		hw.Close()
		return nil, nil, err
	}
	return &Daemon{unit: unit, clock: clk, cycle: cc.Cycle, log: log, lastAdvance: clk.Now()}, hw, nil
}

// bootWait bounds how long the daemon waits for its devices at start.
const bootWait = 10 * time.Second

// WaitReady reads every device until each has answered once or timeout passes; the error names the
// devices still silent.
func (h *Hardware) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		errs := h.readAll(ctx)
		if len(errs) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devices not ready after %v: %w", timeout, errors.Join(errs...))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readAll reads every device once, through the controller's own Read, so that "ready" means exactly
// what the first cycle will accept (a non-finite value counts as a failed read there too).
func (h *Hardware) readAll(ctx context.Context) []error {
	_, errs := fractals.Read(ctx, &h.Devices, time.Time{}, &fractals.Snapshot{}, 0)
	return errs
}

// builder holds what OpenDevices has made so far.
type builder struct {
	u        *config.Unit
	cc       fractals.Config
	clk      clock.Clock
	hw       *Hardware
	gateways map[string]*modbus.Gateway
	mqtts    map[string]*mqtt.Device
	relays   map[string]*gpio.Relay
	ctx      context.Context
	// gridInput is the grid-present input, if any: it tells the meter whether the utility is there.
	gridInput *gpio.Input
	log       *slog.Logger
	hostReady bool // periph's host drivers are registered
}

// OpenDevices connects a unit's devices (connections open lazily: a device that is down at boot is
// read as stale, not fatal) and maps them to the controller's roles.
func OpenDevices(u *config.Unit, cc fractals.Config, clk clock.Clock, log *slog.Logger) (*Hardware, error) {
	if clk == nil {
		clk = clock.Real{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &builder{u: u, cc: cc, clk: clk, hw: &Hardware{cancel: cancel}, gateways: map[string]*modbus.Gateway{},
		mqtts: map[string]*mqtt.Device{}, relays: map[string]*gpio.Relay{}, ctx: ctx, log: log}
	if err := b.build(); err != nil {
		b.hw.Close()
		return nil, fmt.Errorf("%s: %w", u.Name, err)
	}
	for _, d := range b.hw.mqtts {
		d.Start()
	}
	return b.hw, nil
}

func (b *builder) build() error {
	for _, g := range b.u.Gateways {
		gw, err := b.gateway(g)
		if err != nil {
			return fmt.Errorf("gateway %s: %w", g.Name, err)
		}
		b.gateways[g.Name] = gw
		b.hw.gateways = append(b.hw.gateways, gw)
	}
	if ps := b.u.PinServer; ps != nil {
		b.hw.remote = gpio.NewRemote(ps.Address, ps.Timeout)
	}
	// Relays and MQTT devices first: interlocks, load meters and the grid-present input refer to them.
	for _, step := range []struct {
		protocol string
		build    func(*config.Device) error
	}{{"gpio", b.relay}, {"mqtt", b.mqtt}, {"sunspec", b.sunspec}, {"regmap", b.regmap},
		{"", b.driver}, {"gpio", b.gpio}} {
		for i := range b.u.Devices {
			d := &b.u.Devices[i]
			// "" is every registered driver's device (those that own their configuration).
			if _, registered := der.Lookup(d.Protocol); d.Protocol != step.protocol && (step.protocol != "" || !registered) {
				continue
			}
			if err := step.build(d); err != nil {
				return fmt.Errorf("device %s: %w", d.Name, err)
			}
		}
	}
	b.hw.Devices.Services = servicesOf(b.hw.AccessPoint, b.hw.StorageNode, ServiceLimitsOf(b.u))
	if b.gridInput != nil && b.hw.Devices.Meter != nil {
		b.hw.Devices.Meter = &gridInputMeter{m: b.hw.Devices.Meter, in: b.gridInput}
	}
	return nil
}

func (b *builder) gateway(g config.Gateway) (*modbus.Gateway, error) {
	cfg := modbus.Config{Address: g.Address, Timeout: g.Timeout, MaxConcurrent: g.MaxConcurrent,
		WriteReadDelay: g.WriteReadDelay, BackoffMin: g.BackoffMin, BackoffMax: g.BackoffMax, Clock: b.clk}
	if s := g.Serial; g.Protocol == "modbus-rtu" {
		cfg.Serial = &modbus.Serial{}
		if s != nil {
			cfg.Serial.BaudRate, cfg.Serial.DataBits, cfg.Serial.Parity, cfg.Serial.StopBits = s.Baud, s.DataBits, s.Parity, s.StopBits
		}
	}
	return modbus.NewGateway(cfg)
}

func (b *builder) staleAfter(d *config.Device) time.Duration {
	if d.StaleAfter > 0 {
		return d.StaleAfter
	}
	// Within two cycles of the last good read a device is known to be gone.
	return b.cc.Cycle * 3 / 2
}

// mqttStaleAfter is the stale limit of an MQTT device: the file's stale_after, else its preset's
// (from the device's publishing rhythm, which is slower than the control cycle), else the cycle
// rule of the polled devices.
func (b *builder) mqttStaleAfter(d *config.Device, m mqtt.Mapping) time.Duration {
	if d.StaleAfter == 0 && m.StaleAfter > 0 {
		return m.StaleAfter
	}
	return b.staleAfter(d)
}

func (b *builder) sunspec(d *config.Device) error {
	gw := b.gateways[d.Gateway]
	sched := sunspec.Schedule{SlowEvery: slowEvery}
	if p := d.Poll; p != nil {
		sched.Fast, sched.Slow = models(p.Fast), models(p.Slow)
		if p.SlowEvery > 0 {
			sched.SlowEvery = p.SlowEvery
		}
	}
	dev := sunspec.NewDevice(d.Name, gw.Unit(byte(*d.UnitID)), sched, b.clk, b.staleAfter(d))
	revert := d.Revert
	if revert == 0 {
		revert = DefaultRevert
	}
	h := &polledHybrid{h: &sunspec.Hybrid{Dev: dev, Revert: revert, BatteryWDischargePositive: d.BatteryWDischargePositive},
		clk: b.clk, every: b.cc.Cycle / 2}
	h.b802 = newBattery802(dev, b.clk, b.cc.Reserve, b.cc.SoCMax, fractals.DefaultWriterConfig().Refresh, b.log)
	for _, r := range d.Roles {
		switch r {
		case "pv":
			b.hw.Devices.PV = h
		case "battery":
			b.hw.Devices.Battery = h
		case "meter":
			b.hw.Devices.Meter = b.sunspecMeter(h)
		}
	}
	return nil
}

func models(ids []int) []uint16 {
	out := make([]uint16, len(ids))
	for i, id := range ids {
		out[i] = uint16(id)
	}
	return out
}

// polledHybrid polls its SunSpec device at most once per half cycle, on the first read of a cycle,
// so the snapshot holds values read in this cycle, not a background poller's older ones.
type polledHybrid struct {
	h     *sunspec.Hybrid
	clk   clock.Clock
	every time.Duration

	mu     sync.Mutex
	polled time.Time
	err    error

	b802 *battery802 // heartbeat and reserve of a battery that carries model 802 (battery802.go)
}

// poll polls the device if it was not polled in this cycle. It returns an error wrapping
// der.ErrStale when the device did not answer at all (timeout, connection refused, back-off): its
// cached values must not pass for this cycle's, even while younger than the stale limit.
func (p *polledHybrid) poll(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.polled.IsZero() || p.clk.Since(p.polled) >= p.every {
		p.err = p.h.Dev.Poll(ctx)
		p.polled = p.clk.Now()
	}
	if p.err == nil {
		return nil
	}
	if f, ok := p.h.Dev.Registers().(der.Liveness); ok {
		if failing, _ := f.Failing(); failing {
			return fmt.Errorf("%w (%v)", der.ErrStale, p.err)
		}
	}
	return nil // the device answered (an exception, a model it lacks): its blocks age on their own
}

func (p *polledHybrid) ReadPV(ctx context.Context) (der.PVStatus, error) {
	if err := p.poll(ctx); err != nil {
		return der.PVStatus{Available: -1}, err
	}
	return p.h.ReadPV(ctx)
}

func (p *polledHybrid) SetPVLimit(ctx context.Context, limit units.Watts) error {
	return p.h.SetPVLimit(ctx, limit)
}

func (p *polledHybrid) ReadBattery(ctx context.Context) (der.BatteryStatus, error) {
	if err := p.poll(ctx); err != nil {
		return der.BatteryStatus{}, err
	}
	return p.h.ReadBattery(ctx)
}

func (p *polledHybrid) SetBatteryPower(ctx context.Context, w units.Watts) error {
	err := p.h.SetBatteryPower(ctx, w)
	if p.b802 != nil {
		p.b802.afterWrite(ctx)
	}
	return err
}

func (b *builder) mqtt(d *config.Device) error {
	var m mqtt.Mapping
	switch d.Preset {
	case "victron":
		vebus := d.VebusInstance
		if vebus == 0 {
			vebus = DefaultVebusInstance
		}
		m = mqtt.Victron(d.PortalID, vebus)
		if d.Keepalive > 0 {
			m.Keepalive.Every, m.StaleAfter = d.Keepalive, mqtt.VictronStaleAfter(d.Keepalive)
		}
	case "opendtu":
		m = mqtt.OpenDTU(d.Prefix, d.Serial)
		if d.PublishInterval > 0 {
			m.StaleAfter = mqtt.OpenDTUStaleAfter(d.PublishInterval)
		}
	default:
		m = mqtt.Mapping{Points: map[string]mqtt.Binding{}, Commands: map[string]mqtt.Binding{}}
		for point, topic := range d.Topics {
			m.Points[point] = mqtt.Binding{Topic: d.Prefix + topic, Field: d.Fields[point]}
		}
		for cmd, topic := range d.Commands {
			m.Commands[cmd] = mqtt.Binding{Topic: d.Prefix + topic, Field: d.Fields[cmd]}
		}
	}
	m.TrustRetained = d.TrustRetained
	// Client ids must be unique on the broker, which kicks the older of two clients with one id:
	// two units with a device of the same name ("meter") would kick each other for ever.
	clientID := b.u.Name + "-" + d.Name
	if b.u.MQTT.ClientID != "" {
		clientID = b.u.MQTT.ClientID + "-" + d.Name
	}
	dev, err := mqtt.New(mqtt.Config{Name: d.Name, Broker: b.u.MQTT.Broker, ClientID: clientID,
		Username: b.u.MQTT.Username, Password: b.u.MQTT.Password, Mapping: m, StaleAfter: b.mqttStaleAfter(d, m),
		MaxReconnect: 2 * time.Second, Clock: b.clk})
	if err != nil {
		return err
	}
	b.mqtts[d.Name] = dev
	b.hw.mqtts = append(b.hw.mqtts, dev)
	inv := &mqtt.Inverter{Dev: dev, PVRated: units.Watts(d.PVRated), Capacity: b.cc.BatteryCapacity, MaxCharge: b.cc.BatteryMaxCharge,
		MaxDischarge: b.cc.BatteryMaxDischarge, NominalVoltage: b.cc.NominalVoltage, NominalFrequency: b.cc.NominalFrequency}
	for _, r := range d.Roles {
		switch r {
		case "pv":
			b.hw.Devices.PV = inv
		case "battery":
			b.hw.Devices.Battery = inv
		case "meter":
			b.hw.Devices.Meter = inv
		case "ev":
			b.hw.Devices.EV = &mqtt.Charger{Dev: dev}
		}
	}
	return nil
}

// pin resolves a configured pin: on the pin server when there is one, else the host's own line.
func (b *builder) pin(p config.Pin) (pgpio.PinIO, error) {
	if b.hw.remote != nil {
		return b.hw.remote.Pin(p.Name), nil
	}
	if !b.hostReady {
		// Register the board's GPIO drivers once; on a host without GPIO none registers and the
		// lookup below says which line is missing.
		if _, err := host.Init(); err != nil {
			return nil, fmt.Errorf("pin %s: GPIO drivers: %w", p.Name, err)
		}
		b.hostReady = true
	}
	if pin := gpioreg.ByName(p.Name); pin != nil {
		return pin, nil
	}
	return nil, fmt.Errorf("pin %s: no such GPIO line on this host (and no pin_server configured)", p.Name)
}

func (b *builder) relay(d *config.Device) error {
	if d.Pins["relay"].Name == "" {
		return nil // an input
	}
	coil, err := b.pin(d.Pins["relay"])
	if err != nil {
		return err
	}
	cfg := gpio.RelayConfig{Name: d.Name, Coil: coil, CoilActiveLow: d.Pins["relay"].ActiveLow, Clock: b.clk}
	if fb, ok := d.Pins["feedback"]; ok {
		if cfg.Feedback, err = b.pin(fb); err != nil {
			return err
		}
		cfg.FeedbackActiveLow = fb.ActiveLow
	}
	r, err := gpio.NewRelay(cfg)
	if err != nil {
		return err
	}
	b.relays[d.Name] = r
	return nil
}

func (b *builder) gpio(d *config.Device) error {
	if r := b.relays[d.Name]; r != nil {
		if d.Interlock != "" {
			other := b.relays[d.Interlock]
			if other == nil {
				return fmt.Errorf("interlock %s is not a relay", d.Interlock)
			}
			r.AddInterlock(other)
		}
		return b.assignRelay(d, r)
	}
	in, ok := d.Pins["input"]
	if !ok {
		return errors.New("a gpio device needs a relay pin or an input pin")
	}
	pin, err := b.pin(in)
	if err != nil {
		return err
	}
	name, roles := d.Name, fmt.Sprint(d.Roles)
	onChange := func(active bool) {
		if b.log != nil {
			// door and fault inputs are for the operator: logged, not acted on by the controller.
			b.log.Info("input changed", "input", name, "roles", roles, "active", active)
		}
	}
	input, err := gpio.NewInput(gpio.InputConfig{Name: d.Name, Pin: pin, ActiveLow: in.ActiveLow, Debounce: d.Debounce,
		Clock: b.clk, OnChange: onChange})
	if err != nil {
		return err
	}
	// Sample often enough to honour the debounce window (and to see door and fault inputs change)
	// although the cycle is slower.
	period := max(d.Debounce/4, 5*time.Millisecond)
	if d.Debounce == 0 {
		period = b.cc.Cycle
	}
	b.hw.wg.Add(1)
	go func() { defer b.hw.wg.Done(); input.Run(b.ctx, period) }()
	for _, r := range d.Roles {
		if r == "grid_present" {
			b.gridInput = input
		}
	}
	return nil
}

func (b *builder) assignRelay(d *config.Device, r *gpio.Relay) error {
	for _, role := range d.Roles {
		switch {
		case role == "pcc":
			b.hw.Devices.PCC = r
		case strings.HasPrefix(string(role), "load"):
			k := int(role[4] - '0')
			if k < 0 || k >= int(fractals.NumLoads) {
				return fmt.Errorf("role %s: the controller has loads 0..%d", role, fractals.NumLoads-1)
			}
			l := &gpio.Load{Relay: r, Nominal: units.Watts(d.Nominal)}
			if m := b.loadMeter(d, k); m != nil {
				l.Meter = m
			}
			b.hw.Devices.Loads[k] = l
		}
	}
	return nil
}

// loadMeter finds the mqtt device that measures load k: the one named by the relay's meter field,
// or the one playing load<k>_power.
func (b *builder) loadMeter(d *config.Device, k int) gpio.LoadMeter {
	name := d.Meter
	if name == "" {
		for i := range b.u.Devices {
			for _, r := range b.u.Devices[i].Roles {
				if string(r) == fmt.Sprintf("load%d_power", k) {
					name = b.u.Devices[i].Name
				}
			}
		}
	}
	if dev := b.mqtts[name]; dev != nil {
		return &mqtt.LoadMeter{Dev: dev}
	}
	return nil
}

// gridInputMeter is the PCC meter with the utility's presence taken from a grid-present input (a
// voltage relay on the utility side of the breaker): the meter on the unit's side cannot tell an
// island's own voltage from the utility's.
type gridInputMeter struct {
	m  der.Meter
	in *gpio.Input
}

func (g *gridInputMeter) ReadMeter(ctx context.Context) (der.MeterStatus, error) {
	st, err := g.m.ReadMeter(ctx)
	present, ierr := g.in.Read(ctx)
	st.GridPresent = present
	return st, errors.Join(err, ierr)
}

// LoadDeviceDaemon loads the unit configuration at path and builds its daemon on real devices.
func LoadDeviceDaemon(path string, clk clock.Clock, log *slog.Logger) (*Daemon, *Hardware, error) {
	u, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	return NewDeviceDaemon(u, clk, log)
}
