package channel

import "fmt"

// Sync re-establishes a channel after a restart or a broken link: each side tells the other its
// latest own nonce and hands back the latest proof it holds from the other. A side whose store lost
// proofs it had signed learns so here and recovers them (they carry its own signature), so it never
// signs a nonce it has already used.
type Sync struct {
	ChannelID Hash
	Epoch     uint64
	// OwnNonce is the sender's latest own nonce.
	OwnNonce uint64
	// Yours is the latest update the sender holds from the receiver (nonce 0 if none).
	Yours Update
	// WantReply asks the receiver to answer with its own Sync (sent after a restart).
	WantReply bool
	// Withdrawals are the pending withdrawals both sides signed, as the sender holds them (at most
	// one per side): a receiver whose store lost one it agreed to takes it back.
	Withdrawals []WithdrawAgreement
}

// WithdrawAgreement is a pending withdrawal with both signatures: Signature by Participant,
// CoSignature by the other participant, both over WithdrawDigest.
type WithdrawAgreement struct {
	Participant            Address
	Total, Expiry          uint64
	Signature, CoSignature [65]byte
}

// SyncMessage is this side's Sync for the partner.
func (c *Channel) SyncMessage(wantReply bool) Sync {
	s := Sync{ChannelID: c.Domain.ChannelID, Epoch: c.Domain.Epoch, OwnNonce: c.Own.Proof.Nonce,
		Yours: Update{Proof: c.Partner.Proof, Locks: cloneLocks(c.Partner.Locks)}, WantReply: wantReply}
	for _, side := range []*Side{&c.Own, &c.Partner} {
		if side.Withdrawn != side.ChainWithdrawn && side.WithdrawSig != ([65]byte{}) && side.WithdrawCoSig != ([65]byte{}) {
			s.Withdrawals = append(s.Withdrawals, WithdrawAgreement{Participant: side.Address, Total: side.Withdrawn,
				Expiry: side.WithdrawExpiry, Signature: side.WithdrawSig, CoSignature: side.WithdrawCoSig})
		}
	}
	return s
}

// SyncResult says what the caller must do after HandleSync.
type SyncResult struct {
	// Resend: the partner lacks our latest proof; send Latest().
	Resend bool
	// Recovered: our store had lost proofs; the partner's copy of our latest was adopted.
	Recovered bool
	// PartnerAhead: the partner has signed proofs we have not received; it will resend them.
	PartnerAhead bool
	// RecoveredWithdrawals counts the withdrawal agreements taken back from the partner's copy
	// (lost by our store, or a co-signature that never reached us).
	RecoveredWithdrawals int
}

// HandleSync applies the partner's Sync.
func (c *Channel) HandleSync(s Sync) (SyncResult, error) {
	var r SyncResult
	if s.ChannelID != c.Domain.ChannelID || s.Epoch != c.Domain.Epoch {
		return r, fmt.Errorf("sync for channel %x epoch %d: %w", s.ChannelID[:4], s.Epoch, ErrWrongDomain)
	}
	held := s.Yours.Proof.Nonce
	switch {
	case held > c.Own.Proof.Nonce:
		if err := c.checkProof(s.Yours, c.Own.Address); err != nil {
			return r, fmt.Errorf("sync: partner's copy of our proof: %w", err)
		}
		next := c.Own
		next.Proof = s.Yours.Proof
		next.Locks = cloneLocks(s.Yours.Locks)
		if _, ok := Balance(&next, &c.Partner); !ok {
			return r, fmt.Errorf("sync: recovered proof %d overspends: %w", held, ErrOverspend)
		}
		c.Own = next
		c.Acked = held
		r.Recovered = true
	case held == c.Own.Proof.Nonce:
		if held > 0 && s.Yours.Proof.Digest() != c.Own.Proof.Digest() {
			return r, fmt.Errorf("sync: partner holds a different proof %d of ours: %w", held, ErrConflict)
		}
		if held > c.Acked {
			c.Acked = held
		}
	default:
		if held > c.Acked {
			c.Acked = held
		}
		r.Resend = true
	}
	r.PartnerAhead = s.OwnNonce > c.Partner.Proof.Nonce
	for _, a := range s.Withdrawals {
		took, err := c.recoverWithdrawal(a)
		if err != nil {
			return r, fmt.Errorf("sync: withdrawal of %d by %s: %w", a.Total, a.Participant, err)
		}
		if took {
			r.RecoveredWithdrawals++
		}
	}
	return r, nil
}

// recoverWithdrawal takes back a withdrawal agreement both participants signed that this side
// no longer holds (or holds without the co-signature). Both signatures are checked: a partner
// can hand back only what we signed ourselves. An agreement at or below what is already
// reserved or paid out changes nothing.
func (c *Channel) recoverWithdrawal(a WithdrawAgreement) (bool, error) {
	side, other := &c.Own, &c.Partner
	if a.Participant == c.Partner.Address {
		side, other = &c.Partner, &c.Own
	} else if a.Participant != c.Own.Address {
		return false, fmt.Errorf("participant is not in the channel: %w", ErrWithdraw)
	}
	digest := WithdrawDigest(c.Domain, a.Participant, a.Total, a.Expiry)
	if who, err := Recover(digest, a.Signature); err != nil || who != side.Address {
		return false, fmt.Errorf("withdrawal signature: %w", ErrBadSignature)
	}
	if who, err := Recover(digest, a.CoSignature); err != nil || who != other.Address {
		return false, fmt.Errorf("withdrawal co-signature: %w", ErrBadSignature)
	}
	switch {
	case a.Total <= side.ChainWithdrawn || a.Total < side.Withdrawn:
		return false, nil // executed on chain already, or older than what we hold
	case a.Total == side.Withdrawn && a.Expiry == side.WithdrawExpiry:
		if side.WithdrawCoSig != ([65]byte{}) {
			return false, nil
		}
	case side.Withdrawn != side.ChainWithdrawn && a.Total == side.Withdrawn:
		return false, fmt.Errorf("expiry %d, we hold %d for the same total: %w", a.Expiry, side.WithdrawExpiry, ErrConflict)
	}
	next := *side
	next.Withdrawn, next.WithdrawExpiry = a.Total, a.Expiry
	next.WithdrawSig, next.WithdrawCoSig = a.Signature, a.CoSignature
	if _, ok := Balance(&next, other); !ok {
		return false, fmt.Errorf("recovered withdrawal of %d overspends: %w", a.Total, ErrOverspend)
	}
	*side = next
	return true, nil
}
