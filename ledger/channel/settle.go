package channel

import (
	"errors"
	"fmt"
)

// ErrClosing means the channel is being settled cooperatively: nothing new is signed or accepted.
var ErrClosing = errors.New("channel is settling")

// SettleRequest proposes final balances for a cooperative settle. AmountA belongs to the
// participant with the lower address (the contract's order). The nonces pin the state the
// balances were computed on; the partner co-signs only if it holds exactly that state.
type SettleRequest struct {
	Domain           Domain
	AmountA, AmountB uint64
	OwnNonce         uint64 // the requester's latest own nonce
	PartnerNonce     uint64 // the latest nonce the requester holds from the partner
	Signature        [65]byte
}

// SettleConfirm is the partner's co-signature.
type SettleConfirm struct {
	Request   SettleRequest
	Signature [65]byte
}

// finalBalances orders the two balances as the contract does; it refuses while locks or
// withdrawals are pending, since the contract's cooperative settle knows neither.
func (c *Channel) finalBalances() (lo, hi uint64, err error) {
	if len(c.Own.Locks) > 0 || len(c.Partner.Locks) > 0 {
		return 0, 0, fmt.Errorf("cooperative settle with pending locks: %w", ErrInvalidLocks)
	}
	if c.Own.Withdrawn != c.Own.ChainWithdrawn || c.Partner.Withdrawn != c.Partner.ChainWithdrawn {
		return 0, 0, fmt.Errorf("cooperative settle with a withdrawal not yet on chain: %w", ErrWithdraw)
	}
	own, partner := c.OwnBalance(), c.PartnerBalance()
	if c.Own.Address.Cmp(c.Partner.Address) < 0 {
		return own, partner, nil
	}
	return partner, own, nil
}

func (c *Channel) settleDigest(lo, hi uint64) Hash {
	a, b := c.Own.Address, c.Partner.Address
	if b.Cmp(a) < 0 {
		a, b = b, a
	}
	return CooperativeSettleDigest(c.Domain, a, lo, b, hi)
}

// RequestCooperativeSettle freezes the channel and signs the final balances.
func (c *Channel) RequestCooperativeSettle(s Signer) (SettleRequest, error) {
	if s.Address() != c.Own.Address {
		return SettleRequest{}, fmt.Errorf("signer %s is not the channel's own participant", s.Address())
	}
	lo, hi, err := c.finalBalances()
	if err != nil {
		return SettleRequest{}, err
	}
	sig, err := s.Sign(c.settleDigest(lo, hi))
	if err != nil {
		return SettleRequest{}, err
	}
	c.Closing = true
	return SettleRequest{Domain: c.Domain, AmountA: lo, AmountB: hi, OwnNonce: c.Own.Proof.Nonce,
		PartnerNonce: c.Partner.Proof.Nonce, Signature: sig}, nil
}

// ConfirmCooperativeSettle co-signs the partner's proposal if it is exactly our state, and
// freezes the channel.
func (c *Channel) ConfirmCooperativeSettle(req SettleRequest, s Signer) (SettleConfirm, error) {
	if s.Address() != c.Own.Address {
		return SettleConfirm{}, fmt.Errorf("signer %s is not the channel's own participant", s.Address())
	}
	if req.Domain != c.Domain {
		return SettleConfirm{}, fmt.Errorf("settle request for channel %x epoch %d: %w", req.Domain.ChannelID[:4], req.Domain.Epoch, ErrWrongDomain)
	}
	if req.OwnNonce != c.Partner.Proof.Nonce || req.PartnerNonce != c.Own.Proof.Nonce {
		return SettleConfirm{}, fmt.Errorf("settle request at nonces %d/%d, we hold %d/%d: %w",
			req.OwnNonce, req.PartnerNonce, c.Partner.Proof.Nonce, c.Own.Proof.Nonce, ErrStale)
	}
	lo, hi, err := c.finalBalances()
	if err != nil {
		return SettleConfirm{}, err
	}
	if lo != req.AmountA || hi != req.AmountB {
		return SettleConfirm{}, fmt.Errorf("settle request %d/%d, our balances %d/%d: %w", req.AmountA, req.AmountB, lo, hi, ErrInvalidAmount)
	}
	digest := c.settleDigest(lo, hi)
	if who, err := Recover(digest, req.Signature); err != nil || who != c.Partner.Address {
		return SettleConfirm{}, fmt.Errorf("settle request: %w", ErrBadSignature)
	}
	sig, err := s.Sign(digest)
	if err != nil {
		return SettleConfirm{}, err
	}
	c.Closing = true
	return SettleConfirm{Request: req, Signature: sig}, nil
}

// CheckSettleConfirm verifies the partner's co-signature of our proposal.
func (c *Channel) CheckSettleConfirm(conf SettleConfirm) error {
	req := conf.Request
	if req.Domain != c.Domain || !c.Closing {
		return fmt.Errorf("settle confirmation for a channel not settling: %w", ErrWrongDomain)
	}
	lo, hi, err := c.finalBalances()
	if err != nil {
		return err
	}
	if lo != req.AmountA || hi != req.AmountB {
		return fmt.Errorf("settle confirmation %d/%d, our balances %d/%d: %w", req.AmountA, req.AmountB, lo, hi, ErrInvalidAmount)
	}
	if who, err := Recover(c.settleDigest(lo, hi), conf.Signature); err != nil || who != c.Partner.Address {
		return fmt.Errorf("settle confirmation: %w", ErrBadSignature)
	}
	return nil
}
