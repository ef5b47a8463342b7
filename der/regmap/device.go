package regmap

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/clock"
)

// Registers is the Modbus access a Device needs; a der/modbus Unit is one.
type Registers interface {
	ReadHoldingRegisters(ctx context.Context, addr, n uint16) ([]uint16, error)
	ReadInputRegisters(ctx context.Context, addr, n uint16) ([]uint16, error)
	WriteMultipleRegisters(ctx context.Context, addr uint16, vals []uint16) error
}

// maxSpan is the most registers one read asks for (the protocol allows 125).
const maxSpan = 120

// ErrMissing is returned for a point the device reports as not available (an invalid raw value).
var ErrMissing = errors.New("regmap: device reports no value")

// Device polls a register map. Contiguous points of one table are read together; nothing between
// two points is read, since many devices answer an unmapped register with an exception.
type Device struct {
	name       string
	regs       Registers
	m          *Map
	clk        clock.Clock
	staleAfter time.Duration
	every      time.Duration
	spans      []span

	mu     sync.Mutex
	values map[string]sample
	polled time.Time
	err    error
}

type span struct {
	table  string
	addr   uint16
	n      int
	points []*Register
}

type sample struct {
	v   Value
	at  time.Time
	err error // why the last decode failed (implausible, malformed)
}

// Config is what New needs beyond the map.
type Config struct {
	Name string
	// StaleAfter: a point not read successfully for this long is stale (default 3 s).
	StaleAfter time.Duration
	// MinInterval is the shortest time between two polls: reads within it are served from the
	// last poll, so one control cycle's reads of several roles cost one poll (default 0: every read).
	MinInterval time.Duration
	Clock       clock.Clock
}

// New makes a device over regs; the map is validated.
func New(cfg Config, regs Registers, m *Map) (*Device, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("device %s: %w", cfg.Name, err)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 3 * time.Second
	}
	return &Device{name: cfg.Name, regs: regs, m: m, clk: cfg.Clock, staleAfter: cfg.StaleAfter,
		every: cfg.MinInterval, spans: spans(withSignBits(m.Points)), values: map[string]sample{}}, nil
}

// signPoint is the hidden point that reads the sign bit of point.
func signPoint(point string) string { return point + "#sign" }

// withSignBits adds a hidden point for every sign bit, so the status word is read with the rest.
func withSignBits(points []Register) []Register {
	out := append([]Register(nil), points...)
	for _, p := range points {
		if sb := p.SignBit; sb != nil {
			bit := sb.Bit
			out = append(out, Register{Point: signPoint(p.Point), Address: sb.Address, Table: p.Table, Type: U16, Bit: &bit})
		}
	}
	return out
}

// spans groups the points into reads: one table, adjacent or overlapping registers, ≤ maxSpan.
func spans(points []Register) []span {
	ps := make([]*Register, len(points))
	for i := range points {
		ps[i] = &points[i]
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].table() != ps[j].table() {
			return ps[i].table() < ps[j].table()
		}
		return ps[i].Address < ps[j].Address
	})
	var out []span
	for _, p := range ps {
		end := int(p.Address) + p.Size()
		if k := len(out) - 1; k >= 0 && out[k].table == p.table() && int(p.Address) <= int(out[k].addr)+out[k].n &&
			end-int(out[k].addr) <= maxSpan {
			out[k].n = max(out[k].n, end-int(out[k].addr))
			out[k].points = append(out[k].points, p)
			continue
		}
		out = append(out, span{table: p.table(), addr: p.Address, n: p.Size(), points: []*Register{p}})
	}
	return out
}

// Name is the device's name.
func (d *Device) Name() string { return d.name }

// Map is the device's register map.
func (d *Device) Map() *Map { return d.m }

// Poll reads every point once. A span that fails keeps its points' last values (they age into
// stale); the error joins every failure.
func (d *Device) Poll(ctx context.Context) error {
	var errs []error
	for _, s := range d.spans {
		var regs []uint16
		var err error
		if s.table == Input {
			regs, err = d.regs.ReadInputRegisters(ctx, s.addr, uint16(s.n))
		} else {
			regs, err = d.regs.ReadHoldingRegisters(ctx, s.addr, uint16(s.n))
		}
		if err == nil && len(regs) != s.n {
			err = fmt.Errorf("regmap: device %s: %s registers %d..%d: %d in reply", d.name, s.table, s.addr, int(s.addr)+s.n-1, len(regs))
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.store(s, regs)
	}
	return errors.Join(errs...)
}

func (d *Device) store(s span, regs []uint16) {
	now := d.clk.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range s.points {
		off := int(p.Address) - int(s.addr)
		v, err := Decode(p, regs[off:off+p.Size()])
		d.values[p.Point] = sample{v: v, at: now, err: err}
	}
}

// refresh polls unless the last poll is younger than MinInterval. It returns an error wrapping
// der.ErrStale when the link got no reply at all (timeout, refused, back-off), so cached values do
// not pass for this cycle's even while younger than the stale limit.
func (d *Device) refresh(ctx context.Context) error {
	d.mu.Lock()
	due := d.polled.IsZero() || d.clk.Since(d.polled) >= d.every || d.every == 0
	d.mu.Unlock()
	if due {
		err := d.Poll(ctx)
		d.mu.Lock()
		d.polled, d.err = d.clk.Now(), err
		d.mu.Unlock()
	}
	d.mu.Lock()
	err := d.err
	d.mu.Unlock()
	if err == nil {
		return nil
	}
	if l, ok := d.regs.(der.Liveness); ok {
		if failing, _ := l.Failing(); failing {
			return fmt.Errorf("regmap: device %s: %w (%v)", d.name, der.ErrStale, err)
		}
	}
	return nil // the device answered (an exception for one span): those points age on their own
}

// Value returns the latest value of point: an error wraps der.ErrStale when it was not read
// within StaleAfter, der.ErrImplausible when the device sent a value that cannot be true, and
// ErrMissing when it sent its "not available" value.
func (d *Device) Value(point string) (Value, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.values[point]
	switch {
	case !d.Has(point):
		return Value{}, fmt.Errorf("regmap: device %s has no point %s", d.name, point)
	case !ok:
		return Value{}, fmt.Errorf("regmap: device %s: %s not read yet: %w", d.name, point, der.ErrStale)
	case d.clk.Since(s.at) > d.staleAfter:
		return s.v, fmt.Errorf("regmap: device %s: %s last read %v ago: %w", d.name, point, d.clk.Since(s.at).Round(time.Millisecond), der.ErrStale)
	case s.err != nil:
		return Value{}, fmt.Errorf("regmap: device %s: %w", d.name, s.err)
	case !s.v.Valid:
		return Value{}, fmt.Errorf("regmap: device %s: %s: %w", d.name, point, ErrMissing)
	}
	if sign, ok := d.values[signPoint(point)]; ok {
		if d.clk.Since(sign.at) > d.staleAfter || sign.err != nil {
			return Value{}, fmt.Errorf("regmap: device %s: %s: its sign bit was not read with it: %w", d.name, point, der.ErrStale)
		}
		if sign.v.Number == 1 {
			s.v.Number = -s.v.Number
		}
	}
	return s.v, nil
}

// Number is Value's number.
func (d *Device) Number(point string) (float64, error) {
	v, err := d.Value(point)
	return v.Number, err
}

// Has reports whether the map reads point.
func (d *Device) Has(point string) bool {
	for i := range d.m.Points {
		if d.m.Points[i].Point == point {
			return true
		}
	}
	return false
}

// Setpoint returns the set-point named point, nil when the map has none.
func (d *Device) Setpoint(point string) *Setpoint {
	for i := range d.m.Setpoints {
		if d.m.Setpoints[i].Point == point {
			return &d.m.Setpoints[i]
		}
	}
	return nil
}

// Write writes v (engineering units) to the set-point named point, within its limits; with a
// Direction the direction code is written first.
func (d *Device) Write(ctx context.Context, point string, v float64) error {
	s := d.Setpoint(point)
	if s == nil {
		return fmt.Errorf("regmap: device %s has no set-point %s", d.name, point)
	}
	regs, dir, err := Encode(s, v)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.name, err)
	}
	if s.Direction != nil {
		if err := d.regs.WriteMultipleRegisters(ctx, s.Direction.Address, []uint16{dir}); err != nil {
			return fmt.Errorf("regmap: device %s: %s direction at %d: %w", d.name, point, s.Direction.Address, err)
		}
	}
	if err := d.regs.WriteMultipleRegisters(ctx, s.Address, regs); err != nil {
		return fmt.Errorf("regmap: device %s: %s at %d: %w", d.name, point, s.Address, err)
	}
	return nil
}

// ReadSetpoint reads a set-point back from the device (engineering units, signed by its
// Direction register when it has one).
func (d *Device) ReadSetpoint(ctx context.Context, point string) (float64, error) {
	s := d.Setpoint(point)
	if s == nil {
		return 0, fmt.Errorf("regmap: device %s has no set-point %s", d.name, point)
	}
	regs, err := d.regs.ReadHoldingRegisters(ctx, s.Address, uint16(s.Size()))
	if err != nil {
		return 0, fmt.Errorf("regmap: device %s: %s at %d: %w", d.name, point, s.Address, err)
	}
	v, err := Decode(&s.Register, regs)
	if err != nil {
		return 0, err
	}
	if dir := s.Direction; dir != nil {
		code, err := d.regs.ReadHoldingRegisters(ctx, dir.Address, 1)
		if err != nil {
			return 0, fmt.Errorf("regmap: device %s: %s direction at %d: %w", d.name, point, dir.Address, err)
		}
		switch code[0] {
		case dir.Negative:
			v.Number = -v.Number
		case dir.Zero:
			v.Number = 0
		}
	}
	return v.Number, nil
}
