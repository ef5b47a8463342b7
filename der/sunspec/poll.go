package sunspec

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/internal/clock"
)

// Schedule says which models of a device are read when. Fast models (power, frequency, state of
// charge) are read every cycle; slow ones (nameplate, settings) on the first cycle and then every
// SlowEvery cycles. An empty schedule reads every model found every cycle.
type Schedule struct {
	Fast      []uint16
	Slow      []uint16
	SlowEvery int // default 60
}

// Device is one SunSpec device being polled: its model chain, the latest decoded block of each
// model and when it was read. All its readers share its Registers (one connection per gateway).
type Device struct {
	Name       string
	regs       Registers
	sched      Schedule
	clk        clock.Clock
	staleAfter time.Duration

	mu      sync.Mutex
	headers []Header
	byID    map[uint16]Header
	blocks  map[uint16]*Block
	at      map[uint16]time.Time
	lastErr error
	cycle   int
}

// NewDevice polls r by sched; a model not read successfully within staleAfter reads as stale.
func NewDevice(name string, r Registers, sched Schedule, clk clock.Clock, staleAfter time.Duration) *Device {
	if sched.SlowEvery <= 0 {
		sched.SlowEvery = 60
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Device{Name: name, regs: r, sched: sched, clk: clk, staleAfter: staleAfter,
		blocks: map[uint16]*Block{}, at: map[uint16]time.Time{}}
}

// Registers is what the device is read through.
func (d *Device) Registers() Registers { return d.regs }

// Headers are the models discovered (nil before the first successful discovery).
func (d *Device) Headers() []Header {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Header(nil), d.headers...)
}

// span is one Modbus read covering one or more adjacent models.
type span struct {
	addr    uint16
	n       int
	headers []Header
}

// Poll runs one cycle for the device: it discovers the model chain if needed and reads the models
// due in this cycle, adjacent models in one request where they fit. A failure leaves the previous
// blocks in place (they go stale with time) and is returned.
func (d *Device) Poll(ctx context.Context) error {
	d.mu.Lock()
	discovered := d.headers != nil
	d.mu.Unlock()
	if !discovered {
		_, hs, err := Discover(ctx, d.regs)
		if err != nil {
			d.fail(err)
			return fmt.Errorf("sunspec: device %s: %w", d.Name, err)
		}
		d.mu.Lock()
		d.headers, d.byID = hs, map[uint16]Header{}
		for i := len(hs) - 1; i >= 0; i-- { // the first instance of each model wins
			d.byID[hs[i].ID] = hs[i]
		}
		d.mu.Unlock()
	}
	d.mu.Lock()
	d.cycle++
	due, missing := d.due()
	d.mu.Unlock()
	var errs []error
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("sunspec: device %s lacks scheduled models %v", d.Name, missing))
	}
	for _, s := range spans(due) {
		regs, err := ReadRegisters(ctx, d.regs, s.addr, s.n)
		if err != nil {
			d.fail(err)
			return fmt.Errorf("sunspec: device %s: %w", d.Name, errors.Join(append(errs, err)...))
		}
		now := d.clk.Now()
		for _, h := range s.headers {
			off := int(h.Addr) - int(s.addr)
			b, err := Decode(modelDefs[h.ID], h.Addr, regs[off:off+int(h.Length)+2])
			if err != nil {
				errs = append(errs, fmt.Errorf("sunspec: device %s: %w", d.Name, err))
				continue
			}
			d.mu.Lock()
			d.blocks[h.ID], d.at[h.ID] = b, now
			d.mu.Unlock()
		}
	}
	err := errors.Join(errs...)
	d.mu.Lock()
	d.lastErr = err
	d.mu.Unlock()
	return err
}

// fail records a failed read. An exception "illegal data address" suggests the device's map is not
// the one discovered (a firmware update, a different device behind the address): rediscover.
func (d *Device) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastErr = err
	if errors.Is(err, ErrIllegalAddress) || modbus.ExceptionCode(err) == 2 {
		d.headers = nil
	}
}

// due lists the known models to read this cycle (sorted by address) and the scheduled ones the
// device lacks. Caller holds d.mu.
func (d *Device) due() ([]Header, []uint16) {
	var ids []uint16
	if len(d.sched.Fast) == 0 && len(d.sched.Slow) == 0 {
		for _, h := range d.headers {
			ids = append(ids, h.ID)
		}
	} else {
		ids = append(ids, d.sched.Fast...)
		if (d.cycle-1)%d.sched.SlowEvery == 0 {
			ids = append(ids, d.sched.Slow...)
		}
	}
	var hs []Header
	var missing []uint16
	seen := map[uint16]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		h, ok := d.byID[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		if _, known := modelDefs[id]; known {
			hs = append(hs, h)
		}
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].Addr < hs[j].Addr })
	return hs, missing
}

// spans groups adjacent models into reads of at most maxReadRegisters registers; a model longer
// than that is a span of its own (ReadRegisters splits it).
func spans(hs []Header) []span {
	var out []span
	for _, h := range hs {
		n := int(h.Length) + 2
		if k := len(out) - 1; k >= 0 {
			last := &out[k]
			if int(last.addr)+last.n == int(h.Addr) && last.n+n <= maxReadRegisters {
				last.n += n
				last.headers = append(last.headers, h)
				continue
			}
		}
		out = append(out, span{addr: h.Addr, n: n, headers: []Header{h}})
	}
	return out
}

// Block returns the latest decoded block of model. The error wraps der.ErrStale when the block
// was never read or is older than the device's stale limit; the old block is still returned then.
func (d *Device) Block(model uint16) (*Block, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.blocks[model]
	if !ok {
		if d.lastErr != nil {
			return nil, fmt.Errorf("sunspec: device %s: model %d never read (last error: %v): %w", d.Name, model, d.lastErr, der.ErrStale)
		}
		return nil, fmt.Errorf("sunspec: device %s: model %d never read: %w", d.Name, model, der.ErrStale)
	}
	if age, limit := d.clk.Since(d.at[model]), d.staleLimit(model); d.staleAfter > 0 && age > limit {
		return b, fmt.Errorf("sunspec: device %s: model %d read %v ago (limit %v, last error: %v): %w",
			d.Name, model, age.Round(time.Millisecond), limit, d.lastErr, der.ErrStale)
	}
	return b, nil
}

// staleLimit is how old a block of model may be: a slow model is read only every SlowEvery polls,
// so it is given SlowEvery times the limit of the fast ones (a nameplate must not go stale between
// two scheduled reads). Caller holds d.mu.
func (d *Device) staleLimit(model uint16) time.Duration {
	for _, id := range d.sched.Fast {
		if id == model {
			return d.staleAfter
		}
	}
	for _, id := range d.sched.Slow {
		if id == model {
			return d.staleAfter * time.Duration(d.sched.SlowEvery+1)
		}
	}
	return d.staleAfter
}

// Has reports whether the device's discovered chain holds model.
func (d *Device) Has(model uint16) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.byID[model]
	return ok
}

// Write writes points of model with read-back verification (see Write).
func (d *Device) Write(ctx context.Context, model uint16, sets ...Set) error {
	d.mu.Lock()
	h, ok := d.byID[model]
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("sunspec: device %s: no model %d to write (not discovered yet or absent): %w", d.Name, model, der.ErrStale)
	}
	if err := Write(ctx, d.regs, h, sets...); err != nil {
		return fmt.Errorf("sunspec: device %s: %w", d.Name, err)
	}
	return nil
}

// Poller polls many devices each cycle, concurrently; the gateways bound how many requests are in
// flight on each connection.
type Poller struct {
	Devices []*Device
}

// PollOnce polls every device once and returns each device's error by name (nil entries omitted).
func (p *Poller) PollOnce(ctx context.Context) map[string]error {
	var mu sync.Mutex
	errs := map[string]error{}
	var wg sync.WaitGroup
	for _, d := range p.Devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Poll(ctx); err != nil {
				mu.Lock()
				errs[d.Name] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// Run polls every period until ctx ends; report (optional) gets each cycle's errors.
func (p *Poller) Run(ctx context.Context, clk clock.Clock, period time.Duration, report func(map[string]error)) {
	t := clk.NewTicker(period)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, period)
		errs := p.PollOnce(cctx)
		cancel()
		if report != nil {
			report(errs)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}
