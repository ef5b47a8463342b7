package modbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	gb "github.com/goburrow/modbus"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/clock"
)

// Defaults for a Config left at zero.
const (
	DefaultTimeout     = time.Second
	DefaultBackoffMin  = 500 * time.Millisecond
	DefaultBackoffMax  = 30 * time.Second
	DefaultBusyDelay   = 100 * time.Millisecond
	DefaultBusyRetries = 2
)

// Serial configures a Modbus RTU line (RS-485). A zero Serial means Modbus TCP.
type Serial struct {
	BaudRate int    // default 9600
	DataBits int    // default 8
	Parity   string // "N", "E" or "O"; default "E"
	StopBits int    // default 1
}

// Config describes one gateway: a Modbus TCP endpoint (a device, or a gateway serving many unit
// ids) or one RS-485 line.
type Config struct {
	Address string  // host:port for TCP, the serial device for RTU
	Serial  *Serial // nil for TCP
	// Timeout bounds one request (connect, send, reply).
	Timeout time.Duration
	// MaxConcurrent is how many requests may be in flight at once, each on its own connection.
	// Most devices serve one client connection only, so the default is 1; an RTU line is always 1.
	MaxConcurrent int
	// WriteReadDelay is how long a unit gets after a write before the next read: many inverters
	// answer a read that follows a write too closely with stale values or an exception.
	WriteReadDelay time.Duration
	// BackoffMin and BackoffMax bound the wait after a unit fails (doubling per failure) before it
	// is asked again; while waiting, its requests fail at once with der.ErrStale.
	BackoffMin, BackoffMax time.Duration
	// BusyRetries is how many times a request answered with exception 6 (server device busy) is
	// asked again, BusyDelay apart, before the exception is returned: busy is a transient state,
	// not a refusal. Zero means DefaultBusyRetries, negative means none.
	BusyRetries int
	BusyDelay   time.Duration // default DefaultBusyDelay
	Clock       clock.Clock   // default clock.Real
}

// Gateway owns the connections to one Modbus endpoint; all units on it share them.
type Gateway struct {
	cfg   Config
	conns chan *conn // idle connections; its capacity is MaxConcurrent
	mu    sync.Mutex
	all   []*conn
	done  bool
}

type conn struct {
	handler handler
	client  gb.Client
	setUnit func(id byte)
	setTime func(d time.Duration)
}

type handler interface {
	Connect() error
	Close() error
}

// NewGateway prepares a gateway; connections open on first use.
func NewGateway(cfg Config) (*Gateway, error) {
	if cfg.Address == "" {
		return nil, errors.New("modbus: gateway: address is empty")
	}
	if cfg.Serial == nil {
		if err := checkTCPAddress(cfg.Address); err != nil {
			return nil, err
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxConcurrent <= 0 || cfg.Serial != nil {
		cfg.MaxConcurrent = 1
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = DefaultBackoffMin
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(DefaultBackoffMax, cfg.BackoffMin)
	}
	if cfg.BusyRetries == 0 {
		cfg.BusyRetries = DefaultBusyRetries
	}
	if cfg.BusyDelay <= 0 {
		cfg.BusyDelay = DefaultBusyDelay
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	g := &Gateway{cfg: cfg, conns: make(chan *conn, cfg.MaxConcurrent)}
	for i := 0; i < cfg.MaxConcurrent; i++ {
		c := g.newConn()
		g.all = append(g.all, c)
		g.conns <- c
	}
	return g, nil
}

func (g *Gateway) newConn() *conn {
	if s := g.cfg.Serial; s != nil {
		h := gb.NewRTUClientHandler(g.cfg.Address)
		h.BaudRate, h.DataBits, h.Parity, h.StopBits = or(s.BaudRate, 9600), or(s.DataBits, 8), s.Parity, or(s.StopBits, 1)
		if h.Parity == "" {
			h.Parity = "E"
		}
		h.Timeout = g.cfg.Timeout
		return &conn{handler: h, client: gb.NewClient(h),
			setUnit: func(id byte) { h.SlaveId = id }, setTime: func(d time.Duration) { h.Timeout = d }}
	}
	h := gb.NewTCPClientHandler(g.cfg.Address)
	h.Timeout = g.cfg.Timeout
	h.IdleTimeout = 0 // the gateway closes connections itself; no idle timer goroutines
	return &conn{handler: h, client: gb.NewClient(h),
		setUnit: func(id byte) { h.SlaveId = id }, setTime: func(d time.Duration) { h.Timeout = d }}
}

func or(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Address is the endpoint this gateway talks to.
func (g *Gateway) Address() string { return g.cfg.Address }

// Close closes every connection; requests after Close fail.
func (g *Gateway) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done = true
	var errs []error
	for _, c := range g.all {
		if err := c.handler.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ErrClosed is returned for requests on a closed gateway.
var ErrClosed = errors.New("modbus: gateway closed")

// do runs one request on an idle connection, waiting for one if all are busy.
func (g *Gateway) do(ctx context.Context, unit byte, req func(gb.Client) ([]byte, error)) ([]byte, error) {
	var c *conn
	select {
	case c = <-g.conns:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { g.conns <- c }()
	g.mu.Lock()
	closed := g.done
	g.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	res, err := g.try(ctx, c, unit, req)
	if err != nil && ctx.Err() == nil && isConnDropped(err) {
		// Many devices drop a connection that was idle for a while or served a few requests;
		// the next request then meets EOF or a reset. That says nothing about the device, so
		// the request is asked once more on a fresh connection before it counts as a failure.
		// Register writes are idempotent, so repeating one that may have landed is harmless.
		res, err = g.try(ctx, c, unit, req)
		if err != nil && isConnDropped(err) {
			// A fresh connection closed before its first reply: the device took the connection
			// and hung up, which is how single-client devices turn away a second client.
			err = fmt.Errorf("%w: %w", ErrOneClient, err)
		}
	}
	return res, err
}

// ErrOneClient wraps a request whose fresh connection the device closed before replying.
var ErrOneClient = errors.New("the device closed a new connection before replying: " +
	"it probably serves one TCP client at a time and has one already (a daemon polling it?); " +
	"stop that client or read through it")

// try runs one request on c; after an error other than an exception reply it closes c, so the
// next request dials a fresh connection.
func (g *Gateway) try(ctx context.Context, c *conn, unit byte, req func(gb.Client) ([]byte, error)) ([]byte, error) {
	timeout := g.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return nil, context.DeadlineExceeded
		}
		timeout = min(timeout, left)
	}
	c.setUnit(unit)
	c.setTime(timeout)
	res, err := req(c.client)
	if err != nil && !IsException(err) {
		// After a timeout a late reply may still arrive; a fresh connection keeps replies and
		// requests paired.
		_ = c.handler.Close()
	}
	return res, err
}

// isConnDropped reports whether err says the peer closed or reset the connection (as opposed to
// a timeout, a refused dial or a malformed reply).
func isConnDropped(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}

// exchange runs one request for unit, asking again (bounded, BusyDelay apart) while the device
// answers busy.
func (g *Gateway) exchange(ctx context.Context, unit byte, req func(gb.Client) ([]byte, error)) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		res, err := g.do(ctx, unit, req)
		if ExceptionCode(err) != 6 || attempt >= g.cfg.BusyRetries {
			return res, err
		}
		t := g.cfg.Clock.NewTimer(g.cfg.BusyDelay)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return res, err
		}
	}
}

// IsException reports whether err is a Modbus exception reply: the device answered, so the link
// is fine, but it refused the request.
func IsException(err error) bool {
	var me *gb.ModbusError
	return errors.As(err, &me)
}

// ExceptionCode returns the exception code of a Modbus exception reply, 0 for other errors.
func ExceptionCode(err error) byte {
	var me *gb.ModbusError
	if errors.As(err, &me) {
		return me.ExceptionCode
	}
	return 0
}

// Unit is one Modbus unit id on a gateway. Its reads and writes satisfy sunspec.Registers.
type Unit struct {
	g  *Gateway
	id byte

	mu        sync.Mutex
	lastWrite time.Time
	failures  int
	retryAt   time.Time
	lastErr   error
}

// Unit returns unit id on this gateway.
func (g *Gateway) Unit(id byte) *Unit { return &Unit{g: g, id: id} }

// ID is the unit id.
func (u *Unit) ID() byte { return u.id }

// Gateway is the gateway the unit is reached through.
func (u *Unit) Gateway() *Gateway { return u.g }

// before enforces back-off and, for reads, the delay after the last write.
func (u *Unit) before(ctx context.Context, read bool) error {
	clk := u.g.cfg.Clock
	u.mu.Lock()
	now := clk.Now()
	if now.Before(u.retryAt) {
		err := fmt.Errorf("modbus: unit %d at %s in back-off for %v after %d failures (last: %v): %w",
			u.id, u.g.cfg.Address, u.retryAt.Sub(now).Round(time.Millisecond), u.failures, u.lastErr, der.ErrStale)
		u.mu.Unlock()
		return err
	}
	wait := time.Duration(0)
	if read && !u.lastWrite.IsZero() {
		wait = u.lastWrite.Add(u.g.cfg.WriteReadDelay).Sub(now)
	}
	u.mu.Unlock()
	if wait > 0 {
		t := clk.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// after records the outcome: a failure that is not an exception reply starts or extends back-off.
func (u *Unit) after(err error, write bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.g.cfg.Clock.Now()
	if write && err == nil {
		u.lastWrite = now
	}
	if err == nil || IsException(err) || errors.Is(err, context.Canceled) {
		if err == nil || IsException(err) {
			u.failures, u.retryAt, u.lastErr = 0, time.Time{}, nil
		}
		return
	}
	u.failures++
	u.lastErr = err
	d := u.g.cfg.BackoffMin
	for i := 1; i < u.failures && d < u.g.cfg.BackoffMax; i++ {
		d *= 2
	}
	u.retryAt = now.Add(min(d, u.g.cfg.BackoffMax))
}

// Failing reports whether the unit's last request failed without a reply, and since how many
// consecutive failures.
func (u *Unit) Failing() (bool, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.failures > 0, u.failures
}

// ReadHoldingRegisters reads n registers (function 3) from addr.
func (u *Unit) ReadHoldingRegisters(ctx context.Context, addr, n uint16) ([]uint16, error) {
	if err := u.before(ctx, true); err != nil {
		return nil, err
	}
	return u.read(ctx, addr, n, true)
}

// Ready fails at once (wrapping der.ErrStale) while the unit is in back-off, and otherwise waits
// out the delay after a write; a caller that then probes with Probe starts from here.
func (u *Unit) Ready(ctx context.Context) error { return u.before(ctx, true) }

// Probe reads n registers from addr without consulting or feeding the back-off: discovery tries
// several base addresses and a device that times out at one of them (many answer only where their
// map is) must still be asked at the others. The caller reports the outcome of all its probes with
// NoteProbes.
func (u *Unit) Probe(ctx context.Context, addr, n uint16) ([]uint16, error) {
	return u.read(ctx, addr, n, false)
}

// NoteProbes records the outcome of a round of probes as one request: err nil or an exception
// reply (the device answered somewhere) clears the back-off, any other error starts or extends it.
func (u *Unit) NoteProbes(err error) { u.after(err, false) }

func (u *Unit) read(ctx context.Context, addr, n uint16, record bool) ([]uint16, error) {
	return u.readTable(ctx, addr, n, record, false)
}

// readTable reads n holding registers (function 3), or input registers (function 4) when input.
func (u *Unit) readTable(ctx context.Context, addr, n uint16, record, input bool) ([]uint16, error) {
	b, err := u.g.exchange(ctx, u.id, func(c gb.Client) ([]byte, error) {
		if input {
			return c.ReadInputRegisters(addr, n)
		}
		return c.ReadHoldingRegisters(addr, n)
	})
	if record {
		u.after(err, false)
	}
	if err != nil {
		return nil, fmt.Errorf("modbus: unit %d at %s: read %d registers at %d: %w", u.id, u.g.cfg.Address, n, addr, err)
	}
	if len(b) != 2*int(n) {
		return nil, fmt.Errorf("modbus: unit %d at %s: read %d registers at %d: reply has %d bytes", u.id, u.g.cfg.Address, n, addr, len(b))
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return out, nil
}

// WriteMultipleRegisters writes vals (function 16) from addr.
func (u *Unit) WriteMultipleRegisters(ctx context.Context, addr uint16, vals []uint16) error {
	if len(vals) == 0 || len(vals) > 123 {
		return fmt.Errorf("modbus: unit %d: write of %d registers at %d: accepted 1..123", u.id, len(vals), addr)
	}
	if err := u.before(ctx, false); err != nil {
		return err
	}
	b := make([]byte, 2*len(vals))
	for i, v := range vals {
		binary.BigEndian.PutUint16(b[2*i:], v)
	}
	_, err := u.g.exchange(ctx, u.id, func(c gb.Client) ([]byte, error) {
		return c.WriteMultipleRegisters(addr, uint16(len(vals)), b)
	})
	u.after(err, true)
	if err != nil {
		return fmt.Errorf("modbus: unit %d at %s: write %d registers at %d: %w", u.id, u.g.cfg.Address, len(vals), addr, err)
	}
	return nil
}
