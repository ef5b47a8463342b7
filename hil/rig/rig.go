package rig

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fractals-energy/fractals/der/gpio"
	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/der/mqtt"
	"github.com/fractals-energy/fractals/der/sunspec"
	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

// InverterUnit is the Modbus unit id of the hybrid inverter.
const InverterUnit = 1

// Config is one rig.
type Config struct {
	Plant hil.Config
	// Listen is the Modbus TCP address every SunSpec device is served on (default 127.0.0.1:5020).
	Listen string
	// ModbusMaxClients, when positive, limits the Modbus listener to that many client connections
	// at once and closes any further one at once, as most inverters do with one client.
	ModbusMaxClients int
	// PinListen is the pin server's address (default 127.0.0.1:0); it must be loopback unless
	// PinsRemote is set (pinguard.go).
	PinListen  string
	PinsRemote bool
	// NoUtilitySensor leaves out the utility side of the PCC (the MQTT utility/* topics): a site
	// whose meter cannot sense it, which reconnects by an open transition.
	NoUtilitySensor bool
	// Broker is an external MQTT broker (tcp://host:port, e.g. Mosquitto); empty starts the
	// embedded one on BrokerListen (default 127.0.0.1:0).
	Broker       string
	BrokerListen string
	Topic        string // MQTT topic prefix, default "meshbox"
	// Speed is plant seconds per wall second (default 1).
	Speed float64
	// Tick is the wall time between plant steps and register updates (default 100 ms).
	Tick time.Duration
	// EVRevert is the charger's revert timer: its set-point lapses when not refreshed (default 60 s).
	EVRevert time.Duration
	Clock    clock.Clock // the wall clock; default clock.Real
	// History is how many truth samples are kept (default 1200: two minutes at 100 ms).
	History int
	// HostapdSocket, when set, is where the unit's access point's control interface is emulated;
	// the IGFS storage node's HTTP API is then emulated too (see services.go).
	HostapdSocket string
}

// DeviceInfo is one device as the rig serves it (printed as a JSON line when ready).
type DeviceInfo struct {
	Device   string            `json:"device"`
	Protocol string            `json:"protocol"`
	Addr     string            `json:"addr"`
	Unit     int               `json:"unit,omitempty"`
	Models   []uint16          `json:"models,omitempty"`
	Topics   map[string]string `json:"topics,omitempty"`
	Command  string            `json:"command,omitempty"`
	Pins     map[string]string `json:"pins,omitempty"`
}

// Rig runs a plant and serves its devices.
type Rig struct {
	cfg    Config
	plant  *hil.Plant
	clk    clock.Clock
	inv    *inverter
	modbus *modbus.Server
	pins   *pins
	pinSrv *gpio.PinServer
	mq     *mqttDevices

	mu        sync.Mutex
	broker    *mqtt.Broker // nil with an external broker or while it is down
	brokerURL string
	brokerAdr string
	start     time.Time // wall time at plant elapsed 0
	history   []Truth   // ring
	next      int
	stop      context.CancelFunc
	done      chan struct{}
	pinsDown  bool
	services  *services
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:5020"
	}
	if c.PinListen == "" {
		c.PinListen = "127.0.0.1:0"
	}
	if c.BrokerListen == "" {
		c.BrokerListen = "127.0.0.1:0"
	}
	if c.Topic == "" {
		c.Topic = "meshbox"
	}
	if c.Speed <= 0 {
		c.Speed = 1
	}
	if c.Tick <= 0 {
		c.Tick = 100 * time.Millisecond
	}
	if c.EVRevert <= 0 {
		c.EVRevert = time.Minute
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.History <= 0 {
		c.History = 1200
	}
}

// Start builds the plant, serves its devices and starts its clock. Close stops everything.
func Start(cfg Config) (*Rig, error) {
	cfg.defaults()
	if cfg.Speed > 3600 {
		return nil, fmt.Errorf("rig: speed %g out of range (0, 3600]", cfg.Speed)
	}
	plant, err := hil.New(cfg.Plant)
	if err != nil {
		return nil, err
	}
	r := &Rig{cfg: cfg, plant: plant, clk: cfg.Clock, start: cfg.Clock.Now(), history: make([]Truth, 0, cfg.History)}
	if r.inv, err = newInverter(plant, r.clk.Now, fmt.Sprintf("HIL-%d", cfg.Plant.Seed)); err != nil {
		return nil, err
	}
	r.modbus = modbus.NewServer(map[byte]modbus.Bank{InverterUnit: r.inv.m}, cfg.Plant.Seed)
	r.modbus.Errors = func(err error) byte {
		if errors.Is(err, sunspec.ErrIllegalAddress) || errors.Is(err, sunspec.ErrReadOnly) {
			return 2
		}
		return 4
	}
	r.modbus.SetConnFault(modbus.ConnFault{MaxClients: cfg.ModbusMaxClients})
	if err := r.modbus.Start(cfg.Listen); err != nil {
		return nil, err
	}
	r.pins = newPins(plant)
	r.pinSrv = gpio.NewPinServer(r.pins)
	if err := checkPinListen(cfg.PinListen, cfg.PinsRemote); err != nil {
		r.modbus.Stop()
		return nil, err
	}
	if err := r.pinSrv.Start(cfg.PinListen); err != nil {
		r.modbus.Stop()
		return nil, err
	}
	r.brokerURL = cfg.Broker
	if cfg.Broker == "" {
		b, err := mqtt.StartBroker(cfg.BrokerListen)
		if err != nil {
			r.pinSrv.Stop()
			r.modbus.Stop()
			return nil, err
		}
		r.broker, r.brokerURL, r.brokerAdr = b, b.URL(), b.Addr()
	}
	if err := r.startServices(); err != nil {
		r.pinSrv.Stop()
		r.modbus.Stop()
		return nil, err
	}
	r.mq = newMQTTDevices(plant, r.brokerURL, fmt.Sprintf("hilrig-%d-%d", cfg.Plant.Seed, r.start.UnixNano()), cfg.Topic, cfg.EVRevert, r.clk.Now)
	r.mq.noUtility = cfg.NoUtilitySensor
	r.mq.toWall = r.toWall
	r.mq.start()
	r.record(r.clk.Now())
	ctx, cancel := context.WithCancel(context.Background())
	r.stop, r.done = cancel, make(chan struct{})
	go r.run(ctx)
	return r, nil
}

// Plant is the rig's plant (for in-process tests; other processes use the truth endpoint).
func (r *Rig) Plant() *hil.Plant { return r.plant }

// ModbusAddr, PinAddr and BrokerURL are where the devices are served.
func (r *Rig) ModbusAddr() string { return r.modbus.Addr() }
func (r *Rig) PinAddr() string    { return r.pinSrv.Addr() }
func (r *Rig) BrokerURL() string  { return r.brokerURL }

// toWall maps a plant instant to wall time.
func (r *Rig) toWall(t time.Time) time.Time {
	since := t.Sub(r.cfg.Plant.Start)
	return r.start.Add(time.Duration(float64(since) / r.cfg.Speed))
}

// run advances the plant on the wall clock until ctx ends.
func (r *Rig) run(ctx context.Context) {
	defer close(r.done)
	t := r.clk.NewTicker(r.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			r.step(r.clk.Now())
		}
	}
}

// step moves the plant to the wall time now: devices re-assert their set-points, the plant
// advances by the scaled elapsed time, and registers and telemetry follow.
func (r *Rig) step(now time.Time) {
	target := time.Duration(float64(now.Sub(r.start)) * r.cfg.Speed)
	dt := target - r.plant.Elapsed()
	if dt <= 0 {
		return
	}
	r.inv.hold(now)
	r.inv.holdReactive(now)
	r.mq.hold(now)
	r.plant.Advance(dt)
	r.inv.update()
	r.mq.publish()
	r.record(now)
}

// Close stops the clock and every server.
func (r *Rig) Close() error {
	r.stop()
	<-r.done
	r.mq.close()
	errs := append([]error{r.modbus.Stop(), r.pinSrv.Stop()}, r.closeServices()...)
	r.mu.Lock()
	b := r.broker
	r.broker = nil
	r.mu.Unlock()
	if b != nil {
		errs = append(errs, b.Close())
	}
	return errors.Join(errs...)
}

// Devices lists the devices as served.
func (r *Rig) Devices() []DeviceInfo {
	out := []DeviceInfo{{Device: "inverter", Protocol: "sunspec", Addr: r.ModbusAddr(), Unit: InverterUnit, Models: r.inv.m.Models()}}
	out = append(out, DeviceInfo{Device: "meter", Protocol: "mqtt", Addr: r.brokerURL, Topics: r.meterTopics()})
	out = append(out, DeviceInfo{Device: "ev", Protocol: "mqtt", Addr: r.brokerURL, Topics: evTopics(r.cfg.Topic), Command: evCommandTopic(r.cfg.Topic)})
	out = append(out, DeviceInfo{Device: "pcc", Protocol: "gpio", Addr: r.PinAddr(),
		Pins: map[string]string{"relay": PinPCCCoil, "feedback": PinPCCFeedback}})
	out = append(out, DeviceInfo{Device: "grid_present", Protocol: "gpio", Addr: r.PinAddr(), Pins: map[string]string{"input": PinGridOK}})
	for k := hil.LoadKind(0); k < hil.NumLoads; k++ {
		out = append(out, DeviceInfo{Device: fmt.Sprintf("load%d", k), Protocol: "gpio+mqtt", Addr: r.PinAddr(),
			Pins: map[string]string{"relay": LoadCoil(k), "feedback": LoadFeedback(k)}, Topics: loadTopics(r.cfg.Topic, k)})
	}
	return out
}

// Truth is the plant as it is, with the set-points its devices hold; At is wall time.
type Truth struct {
	At           time.Time                   `json:"at"`
	PlantTime    time.Time                   `json:"plant_time"`
	PVPower      units.Watts                 `json:"pv_power"`
	PVAvailable  units.Watts                 `json:"pv_available"`
	BatteryPower units.Watts                 `json:"battery_power"`
	SoC          units.Fraction              `json:"soc"`
	GridForming  bool                        `json:"grid_forming"`
	GridPower    units.Watts                 `json:"grid_power"`
	Voltage      units.Volts                 `json:"voltage"`
	Frequency    units.Hertz                 `json:"frequency"`
	GridPresent  bool                        `json:"grid_present"`
	PCCClosed    bool                        `json:"pcc_closed"`
	Loads        [hil.NumLoads]hil.LoadState `json:"loads"`
	EVConnected  bool                        `json:"ev_connected"`
	EVPower      units.Watts                 `json:"ev_power"`
	// Set-points the devices hold (Held false: the device runs on its defaults).
	PVLimit         units.Watts `json:"pv_limit"`
	PVLimitHeld     bool        `json:"pv_limit_held"`
	BatterySetpoint units.Watts `json:"battery_setpoint"`
	BatteryHeld     bool        `json:"battery_held"`
	EVSetpoint      units.Watts `json:"ev_setpoint"`
	EVHeld          bool        `json:"ev_held"`
	// ReactivePower is what the PV inverter injects (model 704 or 123 set-point, held).
	ReactivePower units.VoltAmperesReactive `json:"reactive_power"`
	ReactiveHeld  bool                      `json:"reactive_held"`
	// Energizing: no cease command (model 123 Conn); FormingTripped: the grid-forming inverter
	// tripped and waits for its black start; BlackStarts counts them.
	Energizing     bool `json:"energizing"`
	FormingTripped bool `json:"forming_tripped"`
	BlackStarts    int  `json:"black_starts"`
}

func (r *Rig) truth(now time.Time) Truth {
	b, g, e := r.plant.Battery(), r.plant.Grid(), r.plant.EV()
	t := Truth{At: now, PlantTime: r.plant.Now(), PVPower: r.plant.PVOutput(), PVAvailable: r.plant.PVAvailable(),
		BatteryPower: b.Power, SoC: b.SoC, GridForming: b.GridForming, GridPower: g.Power, Voltage: g.Voltage,
		Frequency: g.Frequency, GridPresent: g.Present, PCCClosed: g.PCCClosed, EVConnected: e.Connected, EVPower: e.Power}
	for k := range t.Loads {
		t.Loads[k] = r.plant.Load(hil.LoadKind(k))
	}
	t.PVLimit, t.BatterySetpoint, t.PVLimitHeld, t.BatteryHeld = r.inv.setpoints()
	t.ReactivePower = r.plant.ReactivePower()
	_, t.ReactiveHeld = r.inv.reactiveHeld()
	t.Energizing, t.FormingTripped = r.plant.Energizing()
	t.BlackStarts = r.plant.BlackStarts()
	t.EVSetpoint, t.EVHeld = r.mq.evSetpoint()
	return t
}

func (r *Rig) record(now time.Time) {
	t := r.truth(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.history) < cap(r.history) {
		r.history = append(r.history, t)
		return
	}
	r.history[r.next] = t
	r.next = (r.next + 1) % len(r.history)
}

// Truth returns the latest sample.
func (r *Rig) Truth() Truth {
	h := r.History()
	return h[len(h)-1]
}

// History returns the kept samples, oldest first.
func (r *Rig) History() []Truth {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Truth, 0, len(r.history))
	out = append(out, r.history[r.next:]...)
	return append(out, r.history[:r.next]...)
}

// Matches reports whether some truth sample within window of at is within tol of value, for a
// controller reading stamped at: the controller stamps its process image at the start of the
// cycle and reads the devices after that, so a value it reports may be the plant's up to one cycle
// before the stamp (a device's registers lag the plant) or any time during the reads, which end
// within the cycle. A caller that knows when the reads ended (the next cycle's stamp, the time it
// fetched the status) bounds the window with MatchesBetween instead.
func Matches(history []Truth, at time.Time, window time.Duration, field func(Truth) float64, value, tol float64) bool {
	return MatchesBetween(history, at.Add(-window), at.Add(window), field, value, tol)
}

// MatchesBetween reports whether some truth sample taken between from and to (inclusive) is
// within tol of value.
func MatchesBetween(history []Truth, from, to time.Time, field func(Truth) float64, value, tol float64) bool {
	for _, tr := range history {
		if tr.At.Before(from) || tr.At.After(to) {
			continue
		}
		if d := field(tr) - value; d <= tol && d >= -tol {
			return true
		}
	}
	return false
}
