package chain

import (
	"context"
	"errors"
	"time"

	"github.com/fractals-energy/fractals/internal/clock"
)

// Keeper runs a unit's chain duties: poll the watcher, then drain the queue. With no chain
// reachable both simply wait for the next round; transfers never depend on it.
type Keeper struct {
	Watcher *Watcher
	Queue   *Queue
}

// Step does one round and reports whether the chain was reachable.
func (k *Keeper) Step(ctx context.Context) (reachable bool, err error) {
	if err := k.Watcher.Poll(ctx); err != nil {
		if errors.Is(err, ErrUnreachable) {
			return false, nil
		}
		return true, err
	}
	if _, err := k.Queue.Drain(ctx); err != nil {
		if errors.Is(err, ErrUnreachable) {
			return false, nil
		}
		return true, err
	}
	return true, nil
}

// Run calls Step every interval until ctx ends; errors other than an unreachable chain are passed
// to report (which may be nil).
func (k *Keeper) Run(ctx context.Context, clk clock.Clock, every time.Duration, report func(error)) {
	t := clk.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := k.Step(ctx); err != nil && report != nil {
			report(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}
