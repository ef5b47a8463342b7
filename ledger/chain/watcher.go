package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/contracts/bindings"
)

// Holding is what a unit holds from its partner in one channel: the partner's latest proof, its
// pending locks, and the secrets the unit knows of some of them.
type Holding struct {
	Proof   channel.BalanceProof
	Locks   []channel.Lock
	Secrets []channel.Hash
}

// ProofSource returns the unit's Holding in channel id; ok is false if it has no such channel.
type ProofSource func(id channel.Hash) (h Holding, ok bool)

// NodeProofs is the ProofSource of a ledger node.
func NodeProofs(n *ledger.Node) ProofSource {
	return func(id channel.Hash) (Holding, bool) {
		i := n.ChannelByID(id)
		return Holding{Proof: i.Partner, Locks: i.PartnerLocks, Secrets: i.PartnerLockSecrets}, i.Found
	}
}

// Delegation lets a watchtower answer a stale close for a neighbour: the closer's proof the
// neighbour holds, and the neighbour's signature over channel.DelegateDigest of it.
type Delegation struct {
	Domain channel.Domain
	Proof  channel.BalanceProof
	Sig    [65]byte
}

// Watcher follows the contract's ChannelClosed events. When a partner closes a channel of this
// unit, it queues the partner's newest proof (unless the chain already has it) and the settle;
// it does the same for neighbours that delegated to it.
type Watcher struct {
	// Listener, if set, hears this unit's channel openings, deposits and withdrawals.
	Listener    Listener
	adapter     *Adapter
	queue       *Queue
	proofs      ProofSource
	next        uint64
	delegations map[channel.Hash]Delegation
	// handled are the logs of blocks next..head already dealt with, when a poll stopped early
	// for lack of a chain, so the next poll does not queue their answers twice.
	handled map[logKey]bool
	// headTime is the timestamp of the head read by the current poll.
	headTime uint64
	// Confirmations is how deep a block must be before its events are acted on: 0 and 1 act on
	// the head's, 2 waits for one block on top, and so on (a short reorganisation then does not
	// feed the node an opening or a close that never happened).
	Confirmations uint64
	// Answered counts the stale closes answered.
	Answered int
	// Failures are the most recent logs the watcher could not act on (a node refusing a
	// channel, say); each was skipped, since one bad log must never stop the watcher.
	Failures []error
}

// maxFailures bounds Watcher.Failures (the oldest are dropped).
const maxFailures = 64

type logKey struct {
	block uint64
	index uint
}

// NewWatcher watches from block from on.
func NewWatcher(a *Adapter, q *Queue, proofs ProofSource, from uint64) *Watcher {
	return &Watcher{adapter: a, queue: q, proofs: proofs, next: from, delegations: map[channel.Hash]Delegation{}, handled: map[logKey]bool{}}
}

// eventTopics are the log topics the watcher follows, taken from the committed ABI.
func eventTopics() ([5]channel.Hash, error) {
	var out [5]channel.Hash
	parsed, err := bindings.FractalsChannelsMetaData.ParseABI()
	if err != nil {
		return out, err
	}
	for i, name := range []string{bindings.FractalsChannelsChannelClosedEventName, bindings.FractalsChannelsChannelOpenedEventName,
		bindings.FractalsChannelsDepositedEventName, bindings.FractalsChannelsWithdrawnEventName, bindings.FractalsChannelsSettledEventName} {
		ev, ok := parsed.Events[name]
		if !ok {
			return out, fmt.Errorf("chain: the ABI has no %s event", name)
		}
		out[i] = ev.ID
	}
	return out, nil
}

// Delegate registers (or refreshes) a neighbour's delegation.
func (w *Watcher) Delegate(d Delegation) { w.delegations[d.Domain.ChannelID] = d }

// Poll reads the events since the last poll and queues the answers. It returns ErrUnreachable
// when no chain answers (the unhandled logs are read again next time). Closes are handled
// before anything else, and a log that cannot be acted on is recorded in Failures and skipped:
// a partner must not be able to stall the answer to its stale close with a strange event.
func (w *Watcher) Poll(ctx context.Context) error {
	head, err := w.adapter.backend.HeaderByNumber(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	last := head.Number.Uint64()
	w.headTime = head.Time
	if w.Confirmations > 1 {
		if last+1 < w.Confirmations {
			return nil
		}
		last -= w.Confirmations - 1
	}
	if last < w.next {
		return nil
	}
	topics, err := eventTopics()
	if err != nil {
		return err
	}
	logs, err := w.adapter.backend.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(w.next), ToBlock: new(big.Int).SetUint64(last),
		Addresses: []channel.Address{w.adapter.addr}, Topics: [][]channel.Hash{topics[:]},
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	closes, others := splitCloses(logs, topics[0])
	for _, l := range append(closes, others...) {
		key := logKey{l.BlockNumber, l.Index}
		if w.handled[key] {
			continue
		}
		err := w.dispatch(ctx, l)
		if errors.Is(err, ErrUnreachable) || errors.Is(err, errQueue) {
			return err // retried from this log on
		}
		if err != nil {
			w.fail(fmt.Errorf("chain: log %d of block %d: %w", l.Index, l.BlockNumber, err))
		}
		w.handled[key] = true
	}
	w.next = last + 1
	clear(w.handled)
	return nil
}

// splitCloses puts the ChannelClosed logs first, each group in chain order.
func splitCloses(logs []types.Log, closed channel.Hash) (closes, others []*types.Log) {
	for i := range logs {
		if len(logs[i].Topics) > 0 && logs[i].Topics[0] == closed {
			closes = append(closes, &logs[i])
		} else {
			others = append(others, &logs[i])
		}
	}
	return closes, others
}

func (w *Watcher) fail(err error) {
	if len(w.Failures) == maxFailures {
		w.Failures = append(w.Failures[:0], w.Failures[1:]...)
	}
	w.Failures = append(w.Failures, err)
}

// errQueue marks a failure to store an answer in the queue (the local disk): the log is retried.
var errQueue = errors.New("queue")

func (w *Watcher) enqueue(a Action) error {
	if err := w.queue.Enqueue(a); err != nil {
		return fmt.Errorf("%w: %s: %v", errQueue, a.Kind, err)
	}
	return nil
}

// readChannel reads the contract's record; a failure means the chain did not answer.
func (w *Watcher) readChannel(ctx context.Context, id channel.Hash) (ChannelState, error) {
	st, err := w.adapter.Channel(ctx, id)
	if err != nil {
		return st, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	return st, nil
}

// Listener hears the chain events of this unit's channels; NodeListener feeds them to a Node.
// An error refuses that one event (it is recorded in Watcher.Failures); it never stops the
// watcher.
type Listener interface {
	ChannelOpened(o ledger.Opening) error
	Deposited(d channel.Domain, who channel.Address, total uint64) error
	// Withdrawn reports chainNow, the timestamp of the chain's head at the poll.
	Withdrawn(d channel.Domain, who channel.Address, total, chainNow uint64) error
	Settled(d channel.Domain) error
}

func (w *Watcher) dispatch(ctx context.Context, l *types.Log) error {
	abi := w.adapter.abi
	if ev, err := abi.UnpackChannelClosedEvent(l); err == nil {
		return w.answer(ctx, ev.Id, ev.Closer)
	}
	if w.Listener == nil {
		return nil
	}
	self := w.adapter.self
	domain := func(id channel.Hash, epoch uint64) channel.Domain {
		return channel.Domain{ChainID: w.adapter.ChainID(), Contract: w.adapter.addr, ChannelID: id, Epoch: epoch}
	}
	if ev, err := abi.UnpackChannelOpenedEvent(l); err == nil {
		o := ledger.Opening{Domain: domain(ev.Id, ev.Epoch), Token: ev.Token, SettleTimeout: ev.SettleTimeout}
		switch self {
		case ev.A:
			o.Partner = ev.B
		case ev.B:
			o.Partner = ev.A
		default:
			return nil
		}
		return w.Listener.ChannelOpened(o)
	}
	if ev, err := abi.UnpackSettledEvent(l); err == nil {
		return w.Listener.Settled(domain(ev.Id, ev.Epoch))
	}
	var id channel.Hash
	var who channel.Address
	var total *big.Int
	deposit := false
	if ev, err := abi.UnpackDepositedEvent(l); err == nil {
		id, who, total, deposit = ev.Id, ev.Participant, ev.Total, true
	} else if ev, err := abi.UnpackWithdrawnEvent(l); err == nil {
		id, who, total = ev.Id, ev.Participant, ev.Total
	} else {
		return nil
	}
	st, err := w.readChannel(ctx, id)
	if err != nil {
		return err
	}
	if st.A != self && st.B != self {
		return nil // not ours, or settled since (its epoch is gone)
	}
	if !total.IsUint64() {
		return fmt.Errorf("chain: channel %x: total %s exceeds 64 bits", id[:4], total)
	}
	if deposit {
		return w.Listener.Deposited(domain(id, st.Epoch), who, total.Uint64())
	}
	return w.Listener.Withdrawn(domain(id, st.Epoch), who, total.Uint64(), w.headTime)
}

func (w *Watcher) answer(ctx context.Context, id channel.Hash, closer channel.Address) error {
	st, err := w.readChannel(ctx, id)
	if err != nil {
		return err
	}
	if st.State != stateClosed {
		return nil // settled since: nothing left to answer
	}
	self := w.adapter.self
	var proof channel.BalanceProof
	var sig []byte
	var held Holding
	switch {
	case closer == self:
		return nil
	case st.A == self || st.B == self:
		h, ok := w.proofs(id)
		if !ok {
			return nil
		}
		proof, held = h.Proof, h

	default:
		d, ok := w.delegations[id]
		if !ok || d.Domain.Epoch != st.Epoch {
			return nil
		}
		proof, sig = d.Proof, d.Sig[:]
	}
	d := channel.Domain{ChainID: w.adapter.ChainID(), Contract: w.adapter.addr, ChannelID: id, Epoch: st.Epoch}
	if proof.Domain != d {
		return nil
	}
	onChain, err := w.adapter.Participant(ctx, id, closer)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	if proof.Nonce > onChain.Nonce.Uint64() {
		if err := w.enqueue(Action{Kind: ActUpdateProof, Domain: d, Proof: proof, DelegateSig: sig}); err != nil {
			return err
		}
		w.Answered++
	}
	settle := Action{Kind: ActSettle, Domain: d, NotBefore: st.SettleAfter + 1}
	if len(held.Secrets) > 0 {
		// Locks of the closer we can claim: register their secrets now (before they expire), and
		// unlock after settlement.
		for _, secret := range held.Secrets {
			if err := w.enqueue(Action{Kind: ActRegisterSecret, Domain: d, Secret: secret}); err != nil {
				return err
			}
		}
		settle.Owner, settle.Locks = closer, held.Locks
	}
	return w.enqueue(settle)
}

// stateClosed is the contract's STATE_CLOSED.
const stateClosed = 2
