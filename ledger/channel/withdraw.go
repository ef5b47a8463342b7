package channel

import (
	"errors"
	"fmt"
)

// WithdrawRequest asks the partner to co-sign a withdrawal while the channel stays open. Nonce is
// the requester's latest own nonce: the partner confirms only once it holds that proof, so it
// judges the balance on the requester's complete state.
type WithdrawRequest struct {
	Domain      Domain
	Participant Address
	Total       uint64
	Expiry      uint64
	Nonce       uint64
	Signature   [65]byte
}

// WithdrawConfirm is the partner's co-signature of a WithdrawRequest.
type WithdrawConfirm struct {
	Request   WithdrawRequest
	Signature [65]byte
}

// ErrWithdraw marks a refused withdrawal.
var ErrWithdraw = errors.New("withdrawal refused")

// RequestWithdraw reserves total (cumulative) for withdrawal, so it can no longer be spent, and
// returns the signed request for the partner.
func (c *Channel) RequestWithdraw(total, expiry, now uint64, s Signer) (WithdrawRequest, error) {
	if s.Address() != c.Own.Address {
		return WithdrawRequest{}, fmt.Errorf("signer %s is not the channel's own participant", s.Address())
	}
	again := total == c.Own.Withdrawn && expiry == c.Own.WithdrawExpiry && c.Own.Withdrawn != c.Own.ChainWithdrawn
	if !again { // asking again for the pending withdrawal (lost request, restart) is allowed
		if err := checkWithdraw(&c.Own, &c.Partner, total, expiry, now); err != nil {
			return WithdrawRequest{}, err
		}
	}
	req := WithdrawRequest{Domain: c.Domain, Participant: c.Own.Address, Total: total, Expiry: expiry, Nonce: c.Own.Proof.Nonce}
	sig, err := s.Sign(WithdrawDigest(c.Domain, req.Participant, total, expiry))
	if err != nil {
		return WithdrawRequest{}, err
	}
	req.Signature = sig
	if !again || c.Own.WithdrawSig != sig {
		c.Own.WithdrawCoSig = [65]byte{} // a new request: not yet co-signed
	}
	c.Own.Withdrawn = total
	c.Own.WithdrawExpiry = expiry
	c.Own.WithdrawSig = sig
	return req, nil
}

// checkWithdraw: a new total, no other withdrawal pending, not expired, and covered by the balance.
func checkWithdraw(s, other *Side, total, expiry, now uint64) error {
	switch {
	case total <= s.Withdrawn:
		return fmt.Errorf("withdraw total %d not above %d: %w", total, s.Withdrawn, ErrWithdraw)
	case s.Withdrawn != s.ChainWithdrawn:
		return fmt.Errorf("withdraw total %d: an earlier withdrawal of %d is not yet on chain: %w", total, s.Withdrawn, ErrWithdraw)
	case expiry <= now:
		return fmt.Errorf("withdraw expiry %d not after now %d: %w", expiry, now, ErrWithdraw)
	}
	if b, ok := Balance(s, other); !ok || b < total-s.Withdrawn {
		return fmt.Errorf("withdraw %d more exceeds the balance %d: %w", total-s.Withdrawn, b, ErrOverspend)
	}
	return nil
}

// ConfirmWithdraw checks the partner's request against the partner's complete state, reserves the
// amount and co-signs. Confirming the same request again is harmless.
func (c *Channel) ConfirmWithdraw(req WithdrawRequest, now uint64, s Signer) (WithdrawConfirm, error) {
	if s.Address() != c.Own.Address {
		return WithdrawConfirm{}, fmt.Errorf("signer %s is not the channel's own participant", s.Address())
	}
	if req.Domain != c.Domain {
		return WithdrawConfirm{}, fmt.Errorf("withdraw request for channel %x epoch %d: %w", req.Domain.ChannelID[:4], req.Domain.Epoch, ErrWrongDomain)
	}
	if req.Participant != c.Partner.Address {
		return WithdrawConfirm{}, fmt.Errorf("withdraw request for %s, not the partner: %w", req.Participant, ErrWithdraw)
	}
	digest := WithdrawDigest(c.Domain, req.Participant, req.Total, req.Expiry)
	if who, err := Recover(digest, req.Signature); err != nil || who != c.Partner.Address {
		return WithdrawConfirm{}, fmt.Errorf("withdraw request: %w", ErrBadSignature)
	}
	duplicate := req.Total == c.Partner.Withdrawn && req.Expiry == c.Partner.WithdrawExpiry
	if !duplicate {
		if req.Nonce != c.Partner.Proof.Nonce {
			return WithdrawConfirm{}, fmt.Errorf("withdraw request at nonce %d, partner proof held %d: %w", req.Nonce, c.Partner.Proof.Nonce, ErrStale)
		}
		if err := checkWithdraw(&c.Partner, &c.Own, req.Total, req.Expiry, now); err != nil {
			return WithdrawConfirm{}, err
		}
	}
	sig, err := s.Sign(digest)
	if err != nil {
		return WithdrawConfirm{}, err
	}
	c.Partner.Withdrawn = req.Total
	c.Partner.WithdrawExpiry = req.Expiry
	c.Partner.WithdrawSig, c.Partner.WithdrawCoSig = req.Signature, sig
	return WithdrawConfirm{Request: req, Signature: sig}, nil
}

// CheckWithdrawConfirm verifies the partner's co-signature of our own pending request and keeps
// it with the request (persist the channel to keep the agreement).
func (c *Channel) CheckWithdrawConfirm(conf WithdrawConfirm) error {
	req := conf.Request
	if req.Domain != c.Domain || req.Participant != c.Own.Address || req.Total != c.Own.Withdrawn || req.Expiry != c.Own.WithdrawExpiry {
		return fmt.Errorf("withdraw confirmation for total %d expiry %d does not match the pending request: %w", req.Total, req.Expiry, ErrWithdraw)
	}
	who, err := Recover(WithdrawDigest(c.Domain, req.Participant, req.Total, req.Expiry), conf.Signature)
	if err != nil || who != c.Partner.Address {
		return fmt.Errorf("withdraw confirmation: %w", ErrBadSignature)
	}
	c.Own.WithdrawCoSig = conf.Signature
	return nil
}

// ReleaseExpiredWithdraw gives back a reserved withdrawal that expired without reaching the
// chain. Call it only with the chain's current ChainWithdrawn recorded (SetWithdrawn), and with
// now the chain's time (its head's timestamp), never a local clock: only once the chain's time is
// past the expiry can the withdrawal no longer execute.
func (c *Channel) ReleaseExpiredWithdraw(who Address, now uint64) (bool, error) {
	s, err := c.side(who)
	if err != nil {
		return false, err
	}
	if s.Withdrawn == s.ChainWithdrawn || now <= s.WithdrawExpiry {
		return false, nil
	}
	s.Withdrawn = s.ChainWithdrawn
	s.WithdrawExpiry = 0
	s.WithdrawSig, s.WithdrawCoSig = [65]byte{}, [65]byte{}
	return true, nil
}
