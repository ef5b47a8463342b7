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
}

// SyncMessage is this side's Sync for the partner.
func (c *Channel) SyncMessage(wantReply bool) Sync {
	return Sync{ChannelID: c.Domain.ChannelID, Epoch: c.Domain.Epoch, OwnNonce: c.Own.Proof.Nonce,
		Yours: Update{Proof: c.Partner.Proof, Locks: cloneLocks(c.Partner.Locks)}, WantReply: wantReply}
}

// SyncResult says what the caller must do after HandleSync.
type SyncResult struct {
	// Resend: the partner lacks our latest proof; send Latest().
	Resend bool
	// Recovered: our store had lost proofs; the partner's copy of our latest was adopted.
	Recovered bool
	// PartnerAhead: the partner has signed proofs we have not received; it will resend them.
	PartnerAhead bool
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
	return r, nil
}
