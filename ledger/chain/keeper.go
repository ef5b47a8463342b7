package chain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/channel"
)

// Keeper runs a unit's chain duties: poll the watcher, then drain the queue. With no chain
// reachable both simply wait for the next round; transfers never depend on it.
type Keeper struct {
	Watcher *Watcher
	Queue   *Queue
	// Node, if set, is asked for incoming locks whose secret is known but which the payer has not
	// unlocked; ClaimMargin before their expiry the keeper registers the secret on chain and closes
	// the channel, so the lock is paid out by unlock after settlement.
	Node        *ledger.Node
	ClaimMargin time.Duration
	Clock       clock.Clock
	claimed     map[channel.Hash]bool
}

// Step does one round and reports whether the chain was reachable.
func (k *Keeper) Step(ctx context.Context) (reachable bool, err error) {
	if err := k.queueClaims(); err != nil {
		return true, err
	}
	if err := k.Watcher.Poll(ctx); err != nil {
		if errors.Is(err, ErrUnreachable) {
			return false, nil
		}
		return true, err
	}
	if err := k.releaseExpiredWithdrawals(ctx); err != nil {
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

// queueClaims queues, once per lock, the registration of its secret and the close of its channel.
func (k *Keeper) queueClaims() error {
	if k.Node == nil {
		return nil
	}
	if k.claimed == nil {
		k.claimed = map[channel.Hash]bool{}
	}
	clk := k.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	before := uint64(clk.Now().Add(k.ClaimMargin).Unix())
	closing := map[channel.Hash]bool{}
	for _, c := range k.Node.Claims(before) {
		if k.claimed[c.Lock.SecretHash] {
			continue
		}
		k.claimed[c.Lock.SecretHash] = true
		if err := k.Queue.Enqueue(Action{Kind: ActRegisterSecret, Domain: c.Domain, Secret: c.Secret}); err != nil {
			return err
		}
		if closing[c.Domain.ChannelID] {
			continue
		}
		closing[c.Domain.ChannelID] = true
		if err := k.Queue.Enqueue(Action{Kind: ActClose, Domain: c.Domain, Proof: c.PartnerProof, Owner: c.Partner, Locks: c.Locks}); err != nil {
			return err
		}
	}
	return nil
}

// releaseExpiredWithdrawals reads the chain's withdrawn total for every agreed withdrawal whose
// expiry the chain's head has passed (never the local clock: a unit running ahead would release
// a withdrawal the chain can still execute); the node releases the reservation when the chain
// shows it never executed.
func (k *Keeper) releaseExpiredWithdrawals(ctx context.Context) error {
	if k.Node == nil {
		return nil
	}
	head, err := k.Queue.adapter.backend.HeaderByNumber(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	for _, w := range k.Node.ExpiredWithdrawals(head.Time) {
		p, err := k.Queue.adapter.Participant(ctx, w.Domain.ChannelID, w.Who)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUnreachable, err)
		}
		if !p.Withdrawn.IsUint64() {
			return fmt.Errorf("chain: channel %x: withdrawn %s exceeds 64 bits", w.Domain.ChannelID[:4], p.Withdrawn)
		}
		if err := k.Node.ChainWithdrawn(w.Domain.ChannelID, w.Who, p.Withdrawn.Uint64(), head.Time); err != nil {
			return err
		}
	}
	return nil
}
