package gpio

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/clock"
)

// ErrStuck is returned (wrapped) when a relay's feedback contact still disagrees with its coil
// after the settle time: a welded contact or a coil that does not pull in.
var ErrStuck = errors.New("gpio: relay feedback disagrees with its coil")

// ErrInterlock is returned (wrapped) when a relay is asked to close while a relay it is interlocked
// with is closed, or the interlock's state cannot be read.
var ErrInterlock = errors.New("gpio: interlock refuses to close")

// DefaultSettle is how long contacts get to follow the coil before a disagreement is a fault;
// contactors of this size move within 20-50 ms.
const DefaultSettle = 200 * time.Millisecond

// RelayConfig describes one relay or contactor.
type RelayConfig struct {
	Name          string
	Coil          gpio.PinOut
	CoilActiveLow bool // the relay closes when the line is low
	// Feedback is the auxiliary contact; nil means the relay has none and the coil's commanded state
	// is reported (unknown, and so reported open, until the first command).
	Feedback          gpio.PinIn
	FeedbackActiveLow bool
	Settle            time.Duration // default DefaultSettle
	// Interlocks must all read open before this relay may close (for example a generator contactor
	// and the PCC breaker). Opening is never refused: open is the safe state.
	Interlocks []der.Switch
	Clock      clock.Clock // default clock.Real
}

// Relay is a relay or contactor with a feedback input; it implements der.Switch.
type Relay struct {
	cfg RelayConfig

	mu          sync.Mutex
	commanded   bool
	known       bool // a command was given
	commandedAt time.Time
	group       *interlockGroup // shared with the relays it is interlocked with; nil alone
}

// interlockGroup serialises closing among relays interlocked with each other: without it two
// relays asked to close at once both read the other open and both close.
type interlockGroup struct {
	closing sync.Mutex
	members []*Relay
}

// groupMu guards the group pointers of all relays while groups are joined.
var groupMu sync.Mutex

// join puts a and b in one interlock group, merging the groups they are in.
func join(a, b *Relay) {
	groupMu.Lock()
	defer groupMu.Unlock()
	ga, gb := a.groupOf(), b.groupOf()
	switch {
	case ga == nil && gb == nil:
		g := &interlockGroup{members: []*Relay{a, b}}
		a.setGroup(g)
		b.setGroup(g)
	case ga == nil:
		gb.members = append(gb.members, a)
		a.setGroup(gb)
	case gb == nil:
		ga.members = append(ga.members, b)
		b.setGroup(ga)
	case ga != gb:
		for _, m := range gb.members {
			ga.members = append(ga.members, m)
			m.setGroup(ga)
		}
	}
}

func (r *Relay) groupOf() *interlockGroup {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.group
}

func (r *Relay) setGroup(g *interlockGroup) {
	r.mu.Lock()
	r.group = g
	r.mu.Unlock()
}

// commandedClosed reports whether the coil was last commanded closed.
func (r *Relay) commandedClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.known && r.commanded
}

var _ der.Switch = (*Relay)(nil)

// NewRelay checks the configuration and sets the feedback pin up as an input. The coil is left as
// it is until the first command, so a restarting daemon does not drop a closed breaker.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if cfg.Coil == nil {
		return nil, fmt.Errorf("gpio: relay %s: no coil pin", cfg.Name)
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Feedback != nil {
		if err := cfg.Feedback.In(gpio.PullNoChange, gpio.NoEdge); err != nil {
			return nil, fmt.Errorf("gpio: relay %s: feedback %s as input: %w", cfg.Name, cfg.Feedback.Name(), err)
		}
	}
	r := &Relay{cfg: cfg}
	for _, il := range cfg.Interlocks {
		if other, ok := il.(*Relay); ok {
			join(r, other)
		}
	}
	return r, nil
}

// AddInterlock adds a switch that must read open before this relay closes (relays are built first
// and interlocked afterwards, so that two relays may lock each other).
func (r *Relay) AddInterlock(s der.Switch) {
	r.mu.Lock()
	r.cfg.Interlocks = append(r.cfg.Interlocks, s)
	r.mu.Unlock()
	if other, ok := s.(*Relay); ok {
		join(r, other)
	}
}

// Name is the relay's name.
func (r *Relay) Name() string { return r.cfg.Name }

// ReadSwitch returns what the feedback contact says (true: closed). It never reports the commanded
// state in place of a feedback that disagrees: the controller must see the truth; Fault tells why.
func (r *Relay) ReadSwitch(context.Context) (bool, error) {
	if r.cfg.Feedback == nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.known && r.commanded, nil
	}
	lvl, err := readLevel(r.cfg.Feedback)
	if err != nil {
		return false, fmt.Errorf("gpio: relay %s: feedback %s: %w", r.cfg.Name, r.cfg.Feedback.Name(), err)
	}
	return active(lvl, r.cfg.FeedbackActiveLow), nil
}

// Fault reports ErrStuck when the feedback has disagreed with the coil for longer than the settle
// time, nil otherwise (also when there is no feedback or no command yet).
func (r *Relay) Fault(ctx context.Context) error {
	r.mu.Lock()
	commanded, known, at := r.commanded, r.known, r.commandedAt
	r.mu.Unlock()
	if r.cfg.Feedback == nil || !known {
		return nil
	}
	fb, err := r.ReadSwitch(ctx)
	if err != nil {
		return err
	}
	if fb != commanded && r.cfg.Clock.Since(at) > r.cfg.Settle {
		return fmt.Errorf("gpio: relay %s: commanded %s %v ago, feedback %s: %w", r.cfg.Name, state(commanded),
			r.cfg.Clock.Since(at).Round(time.Millisecond), state(fb), ErrStuck)
	}
	return nil
}

// SetSwitch drives the coil. Closing is refused while an interlock is closed or unreadable; a
// relay interlock counts as closed when its coil is commanded closed even if its contact has not
// moved yet (a contactor takes tens of milliseconds), and closings within an interlock group run
// one at a time, so two interlocked relays never both close. Opening is never refused or delayed.
// Re-sending the state it already holds (the controller's periodic refresh) reports a stuck relay.
func (r *Relay) SetSwitch(ctx context.Context, closed bool) error {
	if !closed {
		return r.drive(ctx, false)
	}
	r.mu.Lock()
	interlocks, g := r.cfg.Interlocks, r.group
	r.mu.Unlock()
	if g != nil {
		g.closing.Lock()
		defer g.closing.Unlock()
	}
	for i, il := range interlocks {
		name := fmt.Sprint(i)
		if other, ok := il.(*Relay); ok {
			name = other.Name()
			if other.commandedClosed() {
				return fmt.Errorf("gpio: relay %s: interlock %s is commanded closed: %w", r.cfg.Name, name, ErrInterlock)
			}
		}
		c, err := il.ReadSwitch(ctx)
		if err != nil {
			return fmt.Errorf("gpio: relay %s: interlock %s unreadable (%v): %w", r.cfg.Name, name, err, ErrInterlock)
		}
		if c {
			return fmt.Errorf("gpio: relay %s: interlock %s is closed: %w", r.cfg.Name, name, ErrInterlock)
		}
	}
	return r.drive(ctx, true)
}

// drive sets the coil and records the command.
func (r *Relay) drive(ctx context.Context, closed bool) error {
	r.mu.Lock()
	same := r.known && r.commanded == closed
	r.mu.Unlock()
	if same {
		if err := r.Fault(ctx); err != nil {
			// Drive the coil again anyway: a relay that did not pull in may on a second try.
			_ = r.cfg.Coil.Out(level(closed, r.cfg.CoilActiveLow))
			return err
		}
	}
	if err := r.cfg.Coil.Out(level(closed, r.cfg.CoilActiveLow)); err != nil {
		return fmt.Errorf("gpio: relay %s: coil %s: %w", r.cfg.Name, r.cfg.Coil.Name(), err)
	}
	if !same {
		r.mu.Lock()
		r.commanded, r.known, r.commandedAt = closed, true, r.cfg.Clock.Now()
		r.mu.Unlock()
	}
	return nil
}

func state(closed bool) string {
	if closed {
		return "closed"
	}
	return "open"
}

// level is the line level that makes a pin active (or not).
func level(on, activeLow bool) gpio.Level { return gpio.Level(on != activeLow) }

// active tells whether a line level means active.
func active(l gpio.Level, activeLow bool) bool { return bool(l) != activeLow }

// LevelReader is a pin whose reads can fail (a pin in another process); periph's Read cannot
// report an error, so such pins offer this as well.
type LevelReader interface {
	ReadLevel() (gpio.Level, error)
}

func readLevel(p gpio.PinIn) (gpio.Level, error) {
	if lr, ok := p.(LevelReader); ok {
		return lr.ReadLevel()
	}
	return p.Read(), nil
}
