package ledger

import (
	"context"
	"fmt"

	"github.com/fractals-energy/fractals/ledger/channel"
)

// WithdrawProof is a withdrawal both participants signed, ready for the contract's withdraw.
type WithdrawProof struct {
	Domain     channel.Domain
	Who        channel.Address
	Total      uint64
	Expiry     uint64
	WhoSig     [65]byte
	PartnerSig [65]byte
}

type withdrawEvent struct {
	partner       channel.Address
	total, expiry uint64
	req           channel.WithdrawRequest
	done          chan withdrawResult
}

type withdrawResult struct {
	proof WithdrawProof
	err   error
}

// chainEvent is a deposit or withdrawal total the contract reports.
type chainEvent struct {
	deposit  bool
	id       channel.Hash
	who      channel.Address
	total    uint64
	chainNow uint64
	done     chan error
}

// Withdraw negotiates a withdrawal of total (cumulative) from the channel with partner, valid
// until expiry (Unix seconds). The amount is reserved at once and stays reserved until the chain
// executes it or it expires unexecuted (see ChainWithdrawn). The caller sends the returned proof
// to the chain.
func (n *Node) Withdraw(ctx context.Context, partner channel.Address, total, expiry uint64) (WithdrawProof, error) {
	done := make(chan withdrawResult, 1)
	if err := n.submit(&withdrawEvent{partner: partner, total: total, expiry: expiry, done: done}); err != nil {
		return WithdrawProof{}, err
	}
	select {
	case r := <-done:
		return r.proof, r.err
	case <-ctx.Done():
		return WithdrawProof{}, ctx.Err()
	case <-n.done:
		return WithdrawProof{}, ErrClosed
	}
}

// ChainWithdrawn tells the node what the contract has paid out to who in channel id (from the
// chain's Withdrawn events or a read of the contract) as of chain time chainNow (the head's
// timestamp, Unix seconds). An agreed withdrawal that never executed is released here once
// chainNow is past its expiry: only the chain's clock says it can no longer execute.
func (n *Node) ChainWithdrawn(id channel.Hash, who channel.Address, total, chainNow uint64) error {
	return n.chainEvent(&chainEvent{id: id, who: who, total: total, chainNow: chainNow})
}

// ChainDeposited tells the node a participant's total deposit in channel id.
func (n *Node) ChainDeposited(id channel.Hash, who channel.Address, total uint64) error {
	return n.chainEvent(&chainEvent{deposit: true, id: id, who: who, total: total})
}

func (n *Node) chainEvent(e *chainEvent) error {
	e.done = make(chan error, 1)
	if err := n.submit(e); err != nil {
		return err
	}
	return n.wait(context.Background(), e.done)
}

func (c *core) handleWithdraw(e *withdrawEvent) {
	cs := c.partnerChannel(e.partner)
	switch {
	case cs == nil:
		c.answer(replyTo(e.done, withdrawResult{err: fmt.Errorf("ledger node: no channel with %s", e.partner)}))
		return
	case !cs.synced:
		c.answer(replyTo(e.done, withdrawResult{err: fmt.Errorf("ledger node: channel with %s not yet re-established", e.partner)}))
		return
	case cs.withdraw != nil:
		c.answer(replyTo(e.done, withdrawResult{err: fmt.Errorf("ledger node: a withdrawal with %s is already being negotiated", e.partner)}))
		return
	}
	req, err := cs.ch.RequestWithdraw(e.total, e.expiry, c.unixNow(), c.cfg.Signer)
	if err != nil {
		c.answer(replyTo(e.done, withdrawResult{err: fmt.Errorf("ledger node: withdraw: %w", err)}))
		return
	}
	e.req = req
	cs.withdraw = e
	cs.dirty = true // the reservation is on disk before the request leaves
	c.send(e.partner, channel.EncodeWithdrawRequest(req))
}

func (c *core) handleWithdrawRequest(cs *chanState, from channel.Address, frame []byte) error {
	if cs == nil {
		return fmt.Errorf("withdraw request from %s: no channel", from)
	}
	req, err := channel.DecodeWithdrawRequest(frame)
	if err != nil {
		return err
	}
	conf, err := cs.ch.ConfirmWithdraw(req, c.unixNow(), c.cfg.Signer)
	if err != nil {
		return err
	}
	cs.dirty = true // our reservation of the partner's funds is on disk before we co-sign
	c.send(from, channel.EncodeWithdrawConfirm(conf))
	return nil
}

func (c *core) handleWithdrawConfirm(cs *chanState, from channel.Address, frame []byte) error {
	if cs == nil || cs.withdraw == nil {
		return fmt.Errorf("withdraw confirmation from %s: nothing pending", from)
	}
	conf, err := channel.DecodeWithdrawConfirm(frame)
	if err != nil {
		return err
	}
	if err := cs.ch.CheckWithdrawConfirm(conf); err != nil {
		return err
	}
	w := cs.withdraw
	cs.withdraw = nil
	cs.dirty = true // the co-signature is kept with the request, for Sync to hand back
	c.answer(replyTo(w.done, withdrawResult{proof: WithdrawProof{Domain: cs.ch.Domain, Who: c.self, Total: w.req.Total,
		Expiry: w.req.Expiry, WhoSig: w.req.Signature, PartnerSig: conf.Signature}}))
	return nil
}

func (c *core) handleChainEvent(e *chainEvent) error {
	cs, ok := c.channels[e.id]
	if !ok {
		return fmt.Errorf("ledger node: no channel %x", e.id[:4])
	}
	if e.deposit {
		if e.total == channelDeposit(cs.ch, e.who) {
			return nil
		}
		cs.dirty = true
		return cs.ch.SetDeposit(e.who, e.total)
	}
	if err := cs.ch.SetWithdrawn(e.who, e.total); err != nil {
		return err
	}
	if _, err := cs.ch.ReleaseExpiredWithdraw(e.who, e.chainNow); err != nil {
		return err
	}
	cs.dirty = true
	return nil
}

func channelDeposit(c *channel.Channel, who channel.Address) uint64 {
	if who == c.Own.Address {
		return c.Own.Deposit
	}
	return c.Partner.Deposit
}

// ExpiredWithdrawal is a withdrawal both sides agreed to whose expiry has passed without the
// chain reporting it: once the chain confirms it never executed, the reservation is released.
type ExpiredWithdrawal struct {
	Domain  channel.Domain
	Partner channel.Address
	Who     channel.Address
}

type expiredWithdrawalsEvent struct {
	chainNow uint64
	reply    chan []ExpiredWithdrawal
}

// ExpiredWithdrawals lists the agreed withdrawals the chain has not reported whose expiry is
// before chain time chainNow (the head's timestamp); feed the chain's totals back with
// ChainWithdrawn to release them.
func (n *Node) ExpiredWithdrawals(chainNow uint64) []ExpiredWithdrawal {
	reply := make(chan []ExpiredWithdrawal, 1)
	if n.submit(&expiredWithdrawalsEvent{chainNow: chainNow, reply: reply}) != nil {
		return nil
	}
	select {
	case r := <-reply:
		return r
	case <-n.done:
		return nil
	}
}

func (c *core) expiredWithdrawals(now uint64) []ExpiredWithdrawal {
	var out []ExpiredWithdrawal
	for _, cs := range c.channels {
		partner := cs.ch.Partner.Address
		for _, s := range []*channel.Side{&cs.ch.Own, &cs.ch.Partner} {
			if s.Withdrawn != s.ChainWithdrawn && now > s.WithdrawExpiry {
				out = append(out, ExpiredWithdrawal{Domain: cs.ch.Domain, Partner: partner, Who: s.Address})
			}
		}
	}
	return out
}
