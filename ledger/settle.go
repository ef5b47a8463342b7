package ledger

import (
	"context"
	"fmt"

	"github.com/fractals-energy/fractals/ledger/channel"
)

// SettleProof is a cooperative settle both participants signed, ready for the contract.
// AmountA and SigA belong to the participant with the lower address.
type SettleProof struct {
	Domain           channel.Domain
	AmountA, AmountB uint64
	SigA, SigB       [65]byte
}

type settleEvent struct {
	partner channel.Address
	req     channel.SettleRequest
	done    chan settleResult
}

type settleResult struct {
	proof SettleProof
	err   error
}

// CooperativeSettle freezes the channel with partner and agrees on its final balances; the caller
// sends the returned proof to the chain. Every own proof must be acknowledged and no lock or
// withdrawal pending.
func (n *Node) CooperativeSettle(ctx context.Context, partner channel.Address) (SettleProof, error) {
	done := make(chan settleResult, 1)
	if err := n.submit(&settleEvent{partner: partner, done: done}); err != nil {
		return SettleProof{}, err
	}
	select {
	case r := <-done:
		return r.proof, r.err
	case <-ctx.Done():
		return SettleProof{}, ctx.Err()
	case <-n.done:
		return SettleProof{}, ErrClosed
	}
}

func (c *core) handleSettle(e *settleEvent) {
	cs := c.partnerChannel(e.partner)
	switch {
	case cs == nil:
		c.answer(replyTo(e.done, settleResult{err: fmt.Errorf("ledger node: no channel with %s", e.partner)}))
		return
	case !cs.synced || cs.ch.Unacked():
		c.answer(replyTo(e.done, settleResult{err: fmt.Errorf("ledger node: channel with %s has unacknowledged proofs; settle later", e.partner)}))
		return
	case cs.settle != nil:
		c.answer(replyTo(e.done, settleResult{err: fmt.Errorf("ledger node: a settle with %s is already being negotiated", e.partner)}))
		return
	}
	req, err := cs.ch.RequestCooperativeSettle(c.cfg.Signer)
	if err != nil {
		c.answer(replyTo(e.done, settleResult{err: fmt.Errorf("ledger node: cooperative settle: %w", err)}))
		return
	}
	e.req = req
	cs.settle = e
	cs.dirty = true // frozen on disk before the signature leaves
	c.send(e.partner, channel.EncodeSettleRequest(req))
}

func (c *core) handleSettleRequest(cs *chanState, from channel.Address, frame []byte) error {
	if cs == nil {
		return fmt.Errorf("settle request from %s: no channel", from)
	}
	req, err := channel.DecodeSettleRequest(frame)
	if err != nil {
		return err
	}
	conf, err := cs.ch.ConfirmCooperativeSettle(req, c.cfg.Signer)
	if err != nil {
		return err
	}
	cs.dirty = true
	c.send(from, channel.EncodeSettleConfirm(conf))
	return nil
}

func (c *core) handleSettleConfirm(cs *chanState, from channel.Address, frame []byte) error {
	if cs == nil || cs.settle == nil {
		return fmt.Errorf("settle confirmation from %s: nothing pending", from)
	}
	conf, err := channel.DecodeSettleConfirm(frame)
	if err != nil {
		return err
	}
	if err := cs.ch.CheckSettleConfirm(conf); err != nil {
		return err
	}
	e := cs.settle
	cs.settle = nil
	p := SettleProof{Domain: cs.ch.Domain, AmountA: conf.Request.AmountA, AmountB: conf.Request.AmountB,
		SigA: conf.Request.Signature, SigB: conf.Signature}
	if from.Cmp(c.self) < 0 {
		p.SigA, p.SigB = p.SigB, p.SigA
	}
	c.answer(replyTo(e.done, settleResult{proof: p}))
	return nil
}
