package sunspec

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

// The driver's registration: a unit file's `protocol: sunspec` entry is decoded into a
// DriverConfig.
func init() {
	der.Register("sunspec", der.Driver{Roles: []der.Role{der.RolePV, der.RoleBattery, der.RoleMeter},
		NewConfig: func() der.DriverConfig { return &DriverConfig{} }})
}

// Defaults for settings an entry leaves out.
const (
	// DefaultRevert is the revert timer written with controls: well above the writer's 15 s
	// refresh, so a live controller never lets it lapse and a dead one is undone within a minute.
	DefaultRevert = time.Minute
	// DefaultSlowEvery is how often (in polls) slow models are read when the entry does not say.
	DefaultSlowEvery = 60
)

// DriverConfig is a SunSpec device's part of the unit file.
type DriverConfig struct {
	modbus.Target `yaml:",inline"`
	// Revert is the revert timer written with controls (0: DefaultRevert).
	Revert time.Duration `yaml:"revert"`
	Poll   *PollConfig   `yaml:"poll"`
	// BatteryWDischargePositive is for a device whose model 802 W counts discharge positive,
	// against the model's definition.
	BatteryWDischargePositive bool `yaml:"battery_w_discharge_positive"`
}

// PollConfig is the polling schedule of the file: model ids read every poll and every slow_every.
type PollConfig struct {
	Fast      []int `yaml:"fast"`
	Slow      []int `yaml:"slow"`
	SlowEvery int   `yaml:"slow_every"`
}

// Check reports the unit id, the revert timer and the poll schedule out of range.
func (c *DriverConfig) Check(_ []der.Role, report func(field, format string, args ...any)) {
	c.Target.Check(report)
	if c.Revert < 0 || c.Revert > 18*time.Hour {
		report("revert", "%v outside 0..18h", c.Revert)
	}
	if c.Poll == nil {
		return
	}
	for _, list := range []struct {
		name string
		ids  []int
	}{{"fast", c.Poll.Fast}, {"slow", c.Poll.Slow}} {
		for k, id := range list.ids {
			if id < 1 || id > 65534 {
				report(fmt.Sprintf("poll.%s[%d]", list.name, k), "model %d outside 1..65534", id)
			}
		}
	}
	if c.Poll.SlowEvery < 0 || c.Poll.SlowEvery > 100000 {
		report("poll.slow_every", "%d outside 0..100000", c.Poll.SlowEvery)
	}
}

// Claims are the control models of the unit: two entries writing one inverter's limits would undo
// each other's writes.
func (c *DriverConfig) Claims() []der.Claim {
	unit := -1
	if c.Unit != nil {
		unit = *c.Unit
	}
	return []der.Claim{{Field: "unit", Key: fmt.Sprintf("sunspec-controls %s/%d", c.Gateway, unit),
		Is: fmt.Sprintf("the SunSpec controls of unit %d on %s", unit, c.Gateway), Label: "controls"}}
}

func (c *DriverConfig) schedule() Schedule {
	sched := Schedule{SlowEvery: DefaultSlowEvery}
	if p := c.Poll; p != nil {
		sched.Fast, sched.Slow = modelIDs(p.Fast), modelIDs(p.Slow)
		if p.SlowEvery > 0 {
			sched.SlowEvery = p.SlowEvery
		}
	}
	return sched
}

func modelIDs(ids []int) []uint16 {
	out := make([]uint16, len(ids))
	for i, id := range ids {
		out[i] = uint16(id)
	}
	return out
}

// Open builds the device on its gateway: a Polled hybrid for pv and battery (with model 802's
// heartbeat and reserve), and a PolledMeter for meter.
func (c *DriverConfig) Open(env der.Env) (der.Opened, error) {
	unit, err := c.Target.Open(env)
	if err != nil {
		return der.Opened{}, err
	}
	clk := env.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	dev := NewDevice(env.Name, unit, c.schedule(), clk, env.StaleLimit())
	revert := c.Revert
	if revert == 0 {
		revert = DefaultRevert
	}
	p := &Polled{Hybrid: &Hybrid{Dev: dev, Revert: revert, BatteryWDischargePositive: c.BatteryWDischargePositive},
		clk: clk, every: env.Cycle / 2}
	p.b802 = newBattery802(dev, clk, env.Site.Reserve, env.Site.SoCMax, env.Refresh, env.Log)
	m := &PolledMeter{p: p, m: &Meter{Dev: dev, NominalVoltage: env.Site.NominalVoltage, NominalFrequency: env.Site.NominalFrequency}}
	return der.Opened{PV: p, Battery: p, Meter: m}, nil
}

// Polled is a Hybrid that polls its device at most once per half cycle, on the first read of a
// cycle, so the snapshot holds values read in this cycle, not a background poller's older ones.
type Polled struct {
	Hybrid *Hybrid
	clk    clock.Clock
	every  time.Duration

	mu     sync.Mutex
	polled time.Time
	err    error

	b802 *battery802 // heartbeat and reserve of a battery that carries model 802
}

// SetMinInterval changes how long a poll serves reads (half a cycle as opened); zero polls on
// every read, as a benchmark of back-to-back cycles needs.
func (p *Polled) SetMinInterval(d time.Duration) { p.mu.Lock(); p.every = d; p.mu.Unlock() }

// poll polls the device if it was not polled in this cycle. It returns an error wrapping
// der.ErrStale when the device did not answer at all (timeout, connection refused, back-off): its
// cached values must not pass for this cycle's, even while younger than the stale limit.
func (p *Polled) poll(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.polled.IsZero() || p.clk.Since(p.polled) >= p.every {
		p.err = p.Hybrid.Dev.Poll(ctx)
		p.polled = p.clk.Now()
	}
	if p.err == nil {
		return nil
	}
	if f, ok := p.Hybrid.Dev.Registers().(der.Liveness); ok {
		if failing, _ := f.Failing(); failing {
			return fmt.Errorf("%w (%v)", der.ErrStale, p.err)
		}
	}
	return nil // the device answered (an exception, a model it lacks): its blocks age on their own
}

// ReadPV polls (once per cycle) and reports the PV side.
func (p *Polled) ReadPV(ctx context.Context) (der.PVStatus, error) {
	if err := p.poll(ctx); err != nil {
		return der.PVStatus{Available: -1}, err
	}
	return p.Hybrid.ReadPV(ctx)
}

// SetPVLimit writes the PV limit.
func (p *Polled) SetPVLimit(ctx context.Context, limit units.Watts) error {
	return p.Hybrid.SetPVLimit(ctx, limit)
}

// ReadBattery polls (once per cycle) and reports the battery side.
func (p *Polled) ReadBattery(ctx context.Context) (der.BatteryStatus, error) {
	if err := p.poll(ctx); err != nil {
		return der.BatteryStatus{}, err
	}
	return p.Hybrid.ReadBattery(ctx)
}

// SetBatteryPower writes the battery set-point, then model 802's heartbeat and reserve.
func (p *Polled) SetBatteryPower(ctx context.Context, w units.Watts) error {
	err := p.Hybrid.SetBatteryPower(ctx, w)
	if p.b802 != nil {
		p.b802.afterWrite(ctx)
	}
	return err
}

// PolledMeter is a SunSpec meter (models 201-204, 211-214) polled like the hybrid: once per half
// cycle, stale at once when the device does not answer.
type PolledMeter struct {
	p *Polled
	m *Meter
}

// ReadMeter polls (once per cycle) and reports the meter.
func (pm *PolledMeter) ReadMeter(ctx context.Context) (der.MeterStatus, error) {
	if err := pm.p.poll(ctx); err != nil {
		return der.MeterStatus{}, err
	}
	return pm.m.ReadMeter(ctx)
}

var _ der.ReactivePowerSetter = (*Polled)(nil)

// SetReactivePower hands the volt-var set-point to the hybrid (model 704, else 123).
func (p *Polled) SetReactivePower(ctx context.Context, q units.VoltAmperesReactive) error {
	return p.Hybrid.SetReactivePower(ctx, q)
}

var _ der.Energizer = (*Polled)(nil)

// SetEnergize hands the cease-to-energize command to the hybrid (model 123 Conn).
func (p *Polled) SetEnergize(ctx context.Context, on bool) error {
	return p.Hybrid.SetEnergize(ctx, on)
}
