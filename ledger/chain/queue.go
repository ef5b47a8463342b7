package chain

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
)

// Queue keeps on-chain actions durably until a chain takes them. Transfers never wait for it:
// with no chain reachable, actions simply stay queued.
type Queue struct {
	mu      sync.Mutex
	adapter *Adapter
	store   *store.Store
	seq     uint64
	// Failed lists the most recent actions the chain refused (reverted; at most maxFailures,
	// oldest dropped); they are dropped from the queue.
	Failed []error
	// Gas records the gas of every executed action by kind (for reports).
	Gas map[ActionKind]uint64
}

// NewQueue opens the queue kept in st.
func NewQueue(a *Adapter, st *store.Store) (*Queue, error) {
	q := &Queue{adapter: a, store: st, Gas: map[ActionKind]uint64{}}
	pending, err := st.Pending()
	if err != nil {
		return nil, err
	}
	for _, p := range pending {
		var n uint64
		if _, err := fmt.Sscanf(p.Key, "%020d", &n); err == nil && n > q.seq {
			q.seq = n
		}
	}
	return q, nil
}

// Enqueue stores an action durably.
func (q *Queue) Enqueue(a Action) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.enqueueLocked(a)
}

func (q *Queue) enqueueLocked(a Action) error {
	q.seq++
	return q.store.Commit(&store.Batch{Pending: []store.PendingAction{{Key: fmt.Sprintf("%020d", q.seq), Data: EncodeAction(a)}}})
}

// Len is the number of queued actions.
func (q *Queue) Len() int {
	p, err := q.store.Pending()
	if err != nil {
		return 0
	}
	return len(p)
}

// ErrUnreachable means no chain answered; the queue is kept.
var ErrUnreachable = errors.New("chain unreachable")

// Drain sends every queued action the chain can take now, in order. It stops at the first action
// that fails for lack of a chain (leaving it and the rest queued); actions the chain refuses are
// dropped and listed in Failed. A successful close queues the settle that must follow it.
func (q *Queue) Drain(ctx context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	head, err := q.adapter.backend.HeaderByNumber(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	pending, err := q.store.Pending()
	if err != nil {
		return 0, err
	}
	done := 0
	for _, p := range pending {
		a, err := DecodeAction(p.Data)
		if err != nil {
			q.fail(fmt.Errorf("queued action %s: %w", p.Key, err))
			if err := q.store.Commit(&store.Batch{DonePending: []string{p.Key}}); err != nil {
				return done, err
			}
			continue
		}
		if a.NotBefore > head.Time {
			continue
		}
		if a.Kind == ActUnlock {
			ready, err := q.unlockReadyAt(ctx, a.Locks)
			if err != nil {
				return done, fmt.Errorf("%w: %v", ErrUnreachable, err)
			}
			if ready > head.Time {
				continue
			}
		}
		if pays(a.Kind) && a.Kind != ActUnlock {
			// The payout is credited in the channel's token, which the contract forgets at settle.
			st, err := q.adapter.Channel(ctx, a.Domain.ChannelID)
			if err != nil {
				return done, fmt.Errorf("%w: %v", ErrUnreachable, err)
			}
			a.Token = st.Token
		}
		r, err := q.execute(ctx, a)
		switch {
		case err == nil:
			q.Gas[a.Kind] = r.GasUsed
			done++
		case errors.Is(err, ErrReverted):
			q.fail(err)
		default:
			return done, fmt.Errorf("%w: %v", ErrUnreachable, err)
		}
		if err := q.store.Commit(&store.Batch{DonePending: []string{p.Key}}); err != nil {
			return done, err
		}
		if a.Kind == ActClose && err == nil {
			if err := q.queueSettle(ctx, a); err != nil {
				return done, err
			}
		}
		if a.Kind == ActSettle && err == nil && len(a.Locks) > 0 {
			// The partner's locks whose secrets we registered are paid out by unlock.
			if err := q.enqueueLocked(Action{Kind: ActUnlock, Domain: a.Domain, Owner: a.Owner, Locks: a.Locks, Token: a.Token}); err != nil {
				return done, err
			}
		}
		if pays(a.Kind) && err == nil {
			if err := q.enqueueLocked(Action{Kind: ActCollect, Domain: a.Domain, Token: a.Token}); err != nil {
				return done, err
			}
		}
	}
	return done, nil
}

// unlockReadyAt is the first chain time at which the contract takes the unlock: it refuses while
// a lock of the list is unexpired and its secret unregistered.
func (q *Queue) unlockReadyAt(ctx context.Context, locks []channel.Lock) (uint64, error) {
	var t uint64
	for _, l := range locks {
		at, err := q.adapter.SecretRegisteredAt(ctx, l.SecretHash)
		if err != nil {
			return 0, err
		}
		if at == 0 {
			t = max(t, l.Expiration+1)
		}
	}
	return t, nil
}

func (q *Queue) queueSettle(ctx context.Context, closed Action) error {
	st, err := q.adapter.Channel(ctx, closed.Domain.ChannelID)
	if err != nil {
		return err
	}
	return q.enqueueLocked(Action{Kind: ActSettle, Domain: closed.Domain, Owner: closed.Owner, Locks: closed.Locks, NotBefore: st.SettleAfter + 1})
}

func (q *Queue) fail(err error) {
	if len(q.Failed) == maxFailures {
		q.Failed = append(q.Failed[:0], q.Failed[1:]...)
	}
	q.Failed = append(q.Failed, err)
}

// pays reports whether an action credits payouts that the unit then collects.
func pays(k ActionKind) bool {
	return k == ActSettle || k == ActCooperativeSettle || k == ActUnlock
}

// collect withdraws what the contract owes the unit in token; with nothing owed it sends nothing.
func (q *Queue) collect(ctx context.Context, token channel.Address) (*types.Receipt, error) {
	owed, err := q.adapter.Owed(ctx, token, q.adapter.self)
	if err != nil {
		return nil, err
	}
	if owed.Sign() == 0 {
		return &types.Receipt{}, nil
	}
	return q.adapter.WithdrawBalance(ctx, token)
}

func (q *Queue) execute(ctx context.Context, a Action) (*types.Receipt, error) {
	switch a.Kind {
	case ActCollect:
		return q.collect(ctx, a.Token)
	case ActClose:
		return q.adapter.Close(ctx, a.Domain, a.Proof)
	case ActUpdateProof:
		return q.adapter.UpdateProof(ctx, a.Domain, a.Proof, a.DelegateSig)
	case ActSettle:
		return q.adapter.Settle(ctx, a.Domain)
	case ActRegisterSecret:
		return q.adapter.RegisterSecret(ctx, a.Secret)
	case ActUnlock:
		return q.adapter.Unlock(ctx, a.Domain, a.Owner, a.Locks)
	case ActWithdraw:
		return q.adapter.Withdraw(ctx, a.Domain, a.Owner, a.WithdrawTotal, a.WithdrawExpiry, a.OwnerSig, a.PartnerSig)
	case ActCooperativeSettle:
		return q.adapter.CooperativeSettle(ctx, a.Domain, a.SettleA, a.SettleB, a.OwnerSig, a.PartnerSig)
	}
	return nil, fmt.Errorf("action %s: %w", a.Kind, ErrReverted)
}
