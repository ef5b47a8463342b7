package gpio

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/units"
)

// The driver's registration: a unit file's `protocol: gpio` entry is decoded into a DriverConfig.
func init() {
	roles := []der.Role{der.RolePCC, der.RoleGridPresent, der.RoleDoor, der.RoleFault}
	for k := range der.NumLoadRoles {
		roles = append(roles, der.LoadRole(k))
	}
	der.Register("gpio", der.Driver{Roles: roles, NewConfig: func() der.DriverConfig { return &DriverConfig{} }})
}

// The pins a gpio device may have.
const (
	PinRelay    = "relay"    // the coil
	PinFeedback = "feedback" // the relay's auxiliary contact
	PinInput    = "input"    // a digital input
)

// DriverConfig is a gpio device's part of the unit file: a relay (with its feedback contact) or an
// input.
type DriverConfig struct {
	Pins     map[string]PinConfig `yaml:"pins"` // relay, feedback, input
	Debounce time.Duration        `yaml:"debounce"`
	// Interlock names a relay device whose switch must be open before this one closes.
	Interlock string `yaml:"interlock"`
	// Meter names the device that measures this load circuit (one that lends a load meter); left
	// out, the device playing load<k>_power does.
	Meter   string  `yaml:"meter"`
	Nominal float64 `yaml:"nominal_w"` // a load circuit's power when it has no meter
}

// PinConfig is one GPIO line.
type PinConfig struct {
	Name      string `yaml:"name"`       // GPIO17
	ActiveLow bool   `yaml:"active_low"` // the relay or input is on when the line is low
}

// UnmarshalYAML accepts both `relay: GPIO17` and `relay: {name: GPIO17, active_low: true}`.
func (p *PinConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&p.Name)
	}
	type plain PinConfig
	return n.Decode((*plain)(p))
}

// Check reports missing or unknown pins, line names, a switching role without a relay pin, the
// debounce window and an interlock on a device that is no relay.
func (c *DriverConfig) Check(roles []der.Role, report func(field, format string, args ...any)) {
	if len(c.Pins) == 0 {
		report("pins", "missing: a gpio device needs pins")
	}
	for role, pin := range c.Pins {
		if role != PinRelay && role != PinFeedback && role != PinInput {
			report("pins."+role, "pin role %q: accepted relay, feedback or input", role)
		}
		if !ValidPinName(pin.Name) {
			report("pins."+role, "pin name %q: want a line name such as GPIO17", pin.Name)
		}
	}
	if !c.relay() {
		for k, r := range roles {
			if _, load := r.Load(); load || r == der.RolePCC {
				report(fmt.Sprintf("roles[%d]", k), "role %q switches a circuit: it needs a relay pin", r)
			}
		}
		if c.Interlock != "" {
			report("interlock", "only a gpio relay (a device with a relay pin) can be interlocked")
		}
	}
	if c.Debounce < 0 || c.Debounce > 10*time.Second {
		report("debounce", "%v outside 0..10s", c.Debounce)
	}
	if !(c.Nominal >= 0 && c.Nominal <= der.MaxRatingWatts) {
		report("nominal_w", "%g outside 0..%g", c.Nominal, float64(der.MaxRatingWatts))
	}
}

func (c *DriverConfig) relay() bool { return c.Pins[PinRelay].Name != "" }

// Uses are the relay it is interlocked with and the meter of its circuit.
func (c *DriverConfig) Uses() []der.Use {
	var out []der.Use
	if c.Interlock != "" {
		out = append(out, der.Use{Field: "interlock", Kind: der.SharedRelay, Name: c.Interlock,
			Missing: fmt.Sprintf("%q is not a gpio relay (a device with a relay pin)", c.Interlock)})
	}
	if c.Meter != "" {
		out = append(out, der.Use{Field: "meter", Kind: der.SharedLoadMeter, Name: c.Meter,
			Missing: fmt.Sprintf("%q measures no load circuit (an mqtt device with load.power)", c.Meter)})
	}
	return out
}

// Offers: a relay device lends its relay, for others' interlocks.
func (c *DriverConfig) Offers() []string {
	if c.relay() {
		return []string{der.SharedRelay}
	}
	return nil
}

// Claims are its GPIO lines, in the order of their pin roles.
func (c *DriverConfig) Claims() []der.Claim {
	roles := make([]string, 0, len(c.Pins))
	for role := range c.Pins {
		roles = append(roles, role)
	}
	sort.Strings(roles) // file-independent but stable: the second use is the one reported
	var out []der.Claim
	for _, role := range roles {
		if line := c.Pins[role].Name; line != "" {
			out = append(out, der.Claim{Field: "pins." + role, Key: "gpio-line " + line, Is: fmt.Sprintf("pin %q", line), Label: role})
		}
	}
	return out
}

// Open builds the relay (a der.Switch for pcc, a der.Load for load<k>) or the debounced input
// (grid_present, door, fault) on the pin server when the unit has one, else on the host's lines.
func (c *DriverConfig) Open(env der.Env) (der.Opened, error) {
	if c.relay() {
		return c.openRelay(env)
	}
	in, ok := c.Pins[PinInput]
	if !ok {
		return der.Opened{}, errors.New("a gpio device needs a relay pin or an input pin")
	}
	pin, err := resolve(env, in)
	if err != nil {
		return der.Opened{}, err
	}
	log, name, roles := env.Log, env.Name, fmt.Sprint(env.Roles)
	onChange := func(active bool) {
		if log != nil {
			// door and fault inputs are for the operator: logged, not acted on by the controller.
			log.Info("input changed", "input", name, "roles", roles, "active", active)
		}
	}
	input, err := NewInput(InputConfig{Name: env.Name, Pin: pin, ActiveLow: in.ActiveLow, Debounce: c.Debounce,
		Clock: env.Clock, OnChange: onChange})
	if err != nil {
		return der.Opened{}, err
	}
	// Sample often enough to honour the debounce window (and to see door and fault inputs change)
	// although the cycle is slower.
	period := max(c.Debounce/4, 5*time.Millisecond)
	if c.Debounce == 0 {
		period = env.Cycle
	}
	return der.Opened{GridPresence: input, Run: func(ctx context.Context) { input.Run(ctx, period) }}, nil
}

func (c *DriverConfig) openRelay(env der.Env) (der.Opened, error) {
	coil, err := resolve(env, c.Pins[PinRelay])
	if err != nil {
		return der.Opened{}, err
	}
	cfg := RelayConfig{Name: env.Name, Coil: coil, CoilActiveLow: c.Pins[PinRelay].ActiveLow, Clock: env.Clock}
	if fb, ok := c.Pins[PinFeedback]; ok {
		if cfg.Feedback, err = resolve(env, fb); err != nil {
			return der.Opened{}, err
		}
		cfg.FeedbackActiveLow = fb.ActiveLow
	}
	r, err := NewRelay(cfg)
	if err != nil {
		return der.Opened{}, err
	}
	load := &Load{Relay: r, Nominal: units.Watts(c.Nominal)}
	link := func(env der.Env) error {
		if c.Interlock != "" {
			other, err := env.Resource(der.SharedRelay, c.Interlock)
			if err != nil {
				return fmt.Errorf("interlock: %w", err)
			}
			r.AddInterlock(other.(*Relay))
		}
		m, err := c.loadMeter(env)
		load.Meter = m
		return err
	}
	return der.Opened{Switch: r, Load: load, Shares: map[string]any{der.SharedRelay: r}, Link: link}, nil
}

// loadMeter is the meter of the circuit: the one the entry names, or the device playing
// load<k>_power for the circuit k it switches; nil when there is none.
func (c *DriverConfig) loadMeter(env der.Env) (der.LoadMeter, error) {
	name := c.Meter
	for _, r := range env.Roles {
		if k, ok := r.Load(); ok && name == "" && env.PlayedBy != nil {
			name = env.PlayedBy(der.LoadPowerRole(k))
		}
	}
	if name == "" {
		return nil, nil
	}
	res, err := env.Resource(der.SharedLoadMeter, name)
	if err != nil {
		return nil, fmt.Errorf("meter: %w", err)
	}
	m, ok := res.(der.LoadMeter)
	if !ok {
		return nil, fmt.Errorf("meter %s: %T measures no load", name, res)
	}
	return m, nil
}

var hostInit struct {
	once sync.Once
	err  error
}

// resolve finds a configured pin: on the pin server when the unit has one, else the host's line.
func resolve(env der.Env, p PinConfig) (pgpio.PinIO, error) {
	if res, err := env.Resource(der.SharedPinServer, ""); err == nil {
		rm, ok := res.(*Remote)
		if !ok {
			return nil, fmt.Errorf("pin %s: %T is not a pin server", p.Name, res)
		}
		return rm.Pin(p.Name), nil
	}
	// Register the board's GPIO drivers once; on a host without GPIO none registers and the
	// lookup below says which line is missing.
	hostInit.once.Do(func() { _, hostInit.err = host.Init() })
	if hostInit.err != nil {
		return nil, fmt.Errorf("pin %s: GPIO drivers: %w", p.Name, hostInit.err)
	}
	if pin := gpioreg.ByName(p.Name); pin != nil {
		return pin, nil
	}
	return nil, fmt.Errorf("pin %s: no such GPIO line on this host (and no pin_server configured)", p.Name)
}
