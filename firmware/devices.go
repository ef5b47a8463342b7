package firmware

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/gpio"
	"github.com/fractals-energy/fractals/der/modbus"
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

	remote  *gpio.Remote
	closers []io.Closer // the gateways and pin server, then the devices that use them: closed in reverse
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Close stops the devices' background work and closes every device and connection.
func (h *Hardware) Close() error {
	if h.cancel != nil {
		h.cancel()
	}
	h.wg.Wait()
	var errs []error
	for i := len(h.closers) - 1; i >= 0; i-- {
		errs = append(errs, h.closers[i].Close())
	}
	return errors.Join(errs...)
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

// OpenDevices connects a unit's devices (connections open lazily: a device that is down at boot is
// read as stale, not fatal) and maps them to the controller's roles. Every device is built by its
// driver (der.Register) the same way: opened, then linked to the others it refers to, then started.
func OpenDevices(u *config.Unit, cc fractals.Config, clk clock.Clock, log *slog.Logger) (*Hardware, error) {
	if clk == nil {
		clk = clock.Real{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &builder{u: u, cc: cc, clk: clk, hw: &Hardware{cancel: cancel}, gateways: map[string]*modbus.Gateway{},
		lent: map[string]any{}, log: log}
	if err := b.build(ctx); err != nil {
		b.hw.Close()
		return nil, fmt.Errorf("%s: %w", u.Name, err)
	}
	return b.hw, nil
}

// builder holds what OpenDevices has made so far.
type builder struct {
	u        *config.Unit
	cc       fractals.Config
	clk      clock.Clock
	hw       *Hardware
	gateways map[string]*modbus.Gateway
	lent     map[string]any // kind + "/" + device name -> what the device lends (Opened.Shares)
	log      *slog.Logger
}

func (b *builder) build(ctx context.Context) error {
	if err := b.unitResources(); err != nil {
		return err
	}
	opened := make([]der.Opened, len(b.u.Devices))
	for i := range b.u.Devices {
		d := &b.u.Devices[i]
		o, err := b.open(d)
		if err != nil {
			return fmt.Errorf("device %s: %w", d.Name, err)
		}
		opened[i] = o
	}
	var presence der.Indicator
	for i := range b.u.Devices {
		d, o := &b.u.Devices[i], opened[i]
		if o.Link != nil {
			if err := o.Link(b.env(d)); err != nil {
				return fmt.Errorf("device %s: %w", d.Name, err)
			}
		}
		for _, r := range d.Roles {
			if r == der.RoleGridPresent {
				presence = o.GridPresence
			}
		}
	}
	b.hw.Devices.Services = servicesOf(b.hw.AccessPoint, b.hw.StorageNode, ServiceLimitsOf(b.u))
	if presence != nil && b.hw.Devices.Meter != nil {
		b.hw.Devices.Meter = der.WithGridPresence(b.hw.Devices.Meter, presence)
	}
	for _, o := range opened {
		if o.Run != nil {
			b.hw.wg.Add(1)
			go func() { defer b.hw.wg.Done(); o.Run(ctx) }()
		}
	}
	return nil
}

// unitResources opens what the unit file's own sections describe and its devices share: the
// Modbus gateways and the pin server.
func (b *builder) unitResources() error {
	for _, g := range b.u.Gateways {
		gw, err := b.gateway(g)
		if err != nil {
			return fmt.Errorf("gateway %s: %w", g.Name, err)
		}
		b.gateways[g.Name] = gw
		b.hw.closers = append(b.hw.closers, gw)
	}
	if ps := b.u.PinServer; ps != nil {
		b.hw.remote = gpio.NewRemote(ps.Address, ps.Timeout)
		b.hw.closers = append(b.hw.closers, b.hw.remote)
	}
	return nil
}

// open builds one device through its driver and puts what it offers where its roles say.
func (b *builder) open(d *config.Device) (der.Opened, error) {
	if d.Driver == nil {
		return der.Opened{}, fmt.Errorf("protocol %s: the configuration was not checked by its driver", d.Protocol)
	}
	o, err := d.Driver.Open(b.env(d))
	if err != nil {
		return o, err
	}
	if o.Closer != nil {
		b.hw.closers = append(b.hw.closers, o.Closer)
	}
	for kind, res := range o.Shares {
		b.lent[kind+"/"+d.Name] = res
	}
	for _, r := range d.Roles {
		if err := b.place(r, o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// env is what a driver is given to build device d with.
func (b *builder) env(d *config.Device) der.Env {
	site := der.Site{BatteryCapacity: b.cc.BatteryCapacity, BatteryMaxCharge: b.cc.BatteryMaxCharge,
		BatteryMaxDischarge: b.cc.BatteryMaxDischarge, NominalVoltage: b.cc.NominalVoltage,
		NominalFrequency: b.cc.NominalFrequency, Reserve: b.cc.Reserve, SoCMax: b.cc.SoCMax}
	return der.Env{Name: d.Name, Unit: b.u.Name, Roles: d.Roles, Cycle: b.cc.Cycle, StaleAfter: d.StaleAfter,
		Refresh: fractals.DefaultWriterConfig().Refresh, Site: site, Clock: b.clk, Log: b.log,
		Shared: b.shared, PlayedBy: b.playedBy}
}

// playedBy is the name of the device that plays role r, "" when none does.
func (b *builder) playedBy(r der.Role) string {
	for _, d := range b.u.Devices {
		if slices.Contains(d.Roles, r) {
			return d.Name
		}
	}
	return ""
}

// LoadDeviceDaemon loads the unit configuration at path and builds its daemon on real devices.
func LoadDeviceDaemon(path string, clk clock.Clock, log *slog.Logger) (*Daemon, *Hardware, error) {
	u, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	return NewDeviceDaemon(u, clk, log)
}
