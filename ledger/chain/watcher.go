package chain

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/contracts/bindings"
)

// ProofSource returns the latest proof this unit holds from the partner in channel id (the proof
// the partner signed); ok is false if the unit has no such channel.
type ProofSource func(id channel.Hash) (partnerProof channel.BalanceProof, ok bool)

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
	adapter     *Adapter
	queue       *Queue
	proofs      ProofSource
	next        uint64
	delegations map[channel.Hash]Delegation
	// Answered counts the stale closes answered.
	Answered int
}

// NewWatcher watches from block from on.
func NewWatcher(a *Adapter, q *Queue, proofs ProofSource, from uint64) *Watcher {
	return &Watcher{adapter: a, queue: q, proofs: proofs, next: from, delegations: map[channel.Hash]Delegation{}}
}

// closedTopic is the log topic of ChannelClosed, taken from the committed ABI.
func closedTopic() (channel.Hash, error) {
	parsed, err := bindings.FractalsChannelsMetaData.ParseABI()
	if err != nil {
		return channel.Hash{}, err
	}
	ev, ok := parsed.Events[bindings.FractalsChannelsChannelClosedEventName]
	if !ok {
		return channel.Hash{}, fmt.Errorf("chain: the ABI has no %s event", bindings.FractalsChannelsChannelClosedEventName)
	}
	return ev.ID, nil
}

// Delegate registers (or refreshes) a neighbour's delegation.
func (w *Watcher) Delegate(d Delegation) { w.delegations[d.Domain.ChannelID] = d }

// Poll reads the events since the last poll and queues the answers. It returns ErrUnreachable
// when no chain answers.
func (w *Watcher) Poll(ctx context.Context) error {
	head, err := w.adapter.backend.HeaderByNumber(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	last := head.Number.Uint64()
	if last < w.next {
		return nil
	}
	event, err := closedTopic()
	if err != nil {
		return err
	}
	logs, err := w.adapter.backend.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(w.next), ToBlock: new(big.Int).SetUint64(last),
		Addresses: []channel.Address{w.adapter.addr}, Topics: [][]channel.Hash{{event}},
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	for i := range logs {
		ev, err := w.adapter.abi.UnpackChannelClosedEvent(&logs[i])
		if err != nil {
			continue
		}
		if err := w.answer(ctx, ev.Id, ev.Closer); err != nil {
			return err
		}
	}
	w.next = last + 1
	return nil
}

func (w *Watcher) answer(ctx context.Context, id channel.Hash, closer channel.Address) error {
	st, err := w.adapter.Channel(ctx, id)
	if err != nil {
		return err
	}
	self := w.adapter.self
	var proof channel.BalanceProof
	var sig []byte
	switch {
	case closer == self:
		return nil
	case st.A == self || st.B == self:
		p, ok := w.proofs(id)
		if !ok {
			return nil
		}
		proof = p
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
		return err
	}
	if proof.Nonce > onChain.Nonce.Uint64() {
		if err := w.queue.Enqueue(Action{Kind: ActUpdateProof, Domain: d, Proof: proof, DelegateSig: sig}); err != nil {
			return err
		}
		w.Answered++
	}
	return w.queue.Enqueue(Action{Kind: ActSettle, Domain: d, NotBefore: st.SettleAfter + 1})
}
