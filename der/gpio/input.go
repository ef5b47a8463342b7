package gpio

import (
	"context"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/fractals-energy/fractals/internal/clock"
)

// Debouncer turns a bouncing raw level into a stable one: the stable state follows the raw one only
// after the raw one has held for Window. It is a pure state machine fed with (time, sample).
type Debouncer struct {
	Window time.Duration

	started   bool
	stable    bool
	candidate bool
	since     time.Time
}

// Update feeds one sample taken at now and returns the stable state. The first sample is taken as
// stable: at boot there is no earlier state to hold.
func (d *Debouncer) Update(now time.Time, raw bool) bool {
	if !d.started {
		d.started, d.stable, d.candidate, d.since = true, raw, raw, now
		return d.stable
	}
	if raw != d.candidate {
		d.candidate, d.since = raw, now
	}
	if d.candidate != d.stable && now.Sub(d.since) >= d.Window {
		d.stable = d.candidate
	}
	return d.stable
}

// Stable is the current stable state.
func (d *Debouncer) Stable() bool { return d.stable }

// InputConfig describes one digital input (grid-present, door, fault).
type InputConfig struct {
	Name      string
	Pin       gpio.PinIn
	ActiveLow bool
	Debounce  time.Duration // 0: no debouncing
	Pull      gpio.Pull     // default PullNoChange (the board has its own resistors)
	Clock     clock.Clock
	// OnChange, if set, is called with the new stable state each time it changes (not for the
	// first sample), outside the input's lock.
	OnChange func(active bool)
}

// Input is a debounced digital input. Read samples it; Run samples it in the background so that the
// debounce window is honoured even when the control cycle is much slower.
type Input struct {
	cfg InputConfig
	mu  sync.Mutex
	deb Debouncer
	err error // last sampling error
}

// NewInput sets the pin up as an input.
func NewInput(cfg InputConfig) (*Input, error) {
	if cfg.Pin == nil {
		return nil, fmt.Errorf("gpio: input %s: no pin", cfg.Name)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if err := cfg.Pin.In(cfg.Pull, gpio.NoEdge); err != nil {
		return nil, fmt.Errorf("gpio: input %s: %s as input: %w", cfg.Name, cfg.Pin.Name(), err)
	}
	return &Input{cfg: cfg, deb: Debouncer{Window: cfg.Debounce}}, nil
}

// Name is the input's name.
func (in *Input) Name() string { return in.cfg.Name }

// Sample reads the pin once, feeds the debouncer and returns the stable state.
func (in *Input) Sample() (bool, error) {
	lvl, err := readLevel(in.cfg.Pin)
	in.mu.Lock()
	in.err = err
	if err != nil {
		stable := in.deb.Stable()
		in.mu.Unlock()
		return stable, fmt.Errorf("gpio: input %s: %w", in.cfg.Name, err)
	}
	started, before := in.deb.started, in.deb.Stable()
	now := in.deb.Update(in.cfg.Clock.Now(), active(lvl, in.cfg.ActiveLow))
	in.mu.Unlock()
	if started && now != before && in.cfg.OnChange != nil {
		in.cfg.OnChange(now)
	}
	return now, nil
}

// Read samples the input and returns its debounced state (true: active).
func (in *Input) Read(context.Context) (bool, error) { return in.Sample() }

// Run samples the input every period until ctx ends.
func (in *Input) Run(ctx context.Context, period time.Duration) {
	t := in.cfg.Clock.NewTicker(period)
	defer t.Stop()
	for {
		_, _ = in.Sample() // the error is kept for Read to report
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}
