package chain

import (
	"fmt"

	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/internal/wire"
)

// ActionKind names an on-chain action that can wait in the queue.
type ActionKind uint8

const (
	ActClose ActionKind = iota + 1
	ActUpdateProof
	ActSettle
	ActRegisterSecret
	ActUnlock
	ActWithdraw
	ActCooperativeSettle
	// ActCollect withdraws what the contract credited to the unit in Token (pull payments).
	ActCollect
)

func (k ActionKind) String() string {
	switch k {
	case ActClose:
		return "close"
	case ActUpdateProof:
		return "update proof"
	case ActSettle:
		return "settle"
	case ActRegisterSecret:
		return "register secret"
	case ActUnlock:
		return "unlock"
	case ActWithdraw:
		return "withdraw"
	case ActCooperativeSettle:
		return "cooperative settle"
	case ActCollect:
		return "collect"
	}
	return fmt.Sprintf("action %d", uint8(k))
}

// Action is one queued on-chain action with everything needed to send it later.
type Action struct {
	Kind   ActionKind
	Domain channel.Domain
	// Proof: the partner's proof (close) or the closer's proof (update).
	Proof channel.BalanceProof
	// DelegateSig is the non-closer's delegation when a watchtower updates (empty otherwise).
	DelegateSig []byte
	Secret      channel.Hash
	Owner       channel.Address
	Locks       []channel.Lock
	// Withdraw: Owner withdraws up to WithdrawTotal, both signatures, valid until WithdrawExpiry.
	WithdrawTotal, WithdrawExpiry uint64
	// Cooperative settle: final amounts of the lower and higher address; their signatures go in
	// OwnerSig (lower) and PartnerSig (higher).
	SettleA, SettleB     uint64
	OwnerSig, PartnerSig [65]byte
	// NotBefore is the chain time (Unix seconds) before which the action cannot succeed.
	NotBefore uint64
	// Token is the channel's token (settle, unlock, collect; zero: native coin or not known yet).
	Token channel.Address
}

const actionVersion = 4

// EncodeAction is the durable form of an action.
func EncodeAction(a Action) []byte {
	w := &wire.Writer{}
	w.U8(actionVersion)
	w.U8(uint8(a.Kind))
	w.U64(a.Domain.ChainID)
	w.Bytes(a.Domain.Contract[:])
	w.Bytes(a.Domain.ChannelID[:])
	w.U64(a.Domain.Epoch)
	p := a.Proof
	w.U64(p.Nonce)
	w.U64(p.Transferred)
	w.U64(p.Locked)
	w.Bytes(p.Locksroot[:])
	w.Bytes(p.Signature[:])
	w.U8(uint8(len(a.DelegateSig)))
	w.Bytes(a.DelegateSig)
	w.Bytes(a.Secret[:])
	w.Bytes(a.Owner[:])
	w.U8(uint8(len(a.Locks)))
	for _, l := range a.Locks {
		w.U64(l.Expiration)
		w.U64(l.Amount)
		w.Bytes(l.SecretHash[:])
	}
	w.U64(a.WithdrawTotal)
	w.U64(a.WithdrawExpiry)
	w.U64(a.SettleA)
	w.U64(a.SettleB)
	w.Bytes(a.OwnerSig[:])
	w.Bytes(a.PartnerSig[:])
	w.U64(a.NotBefore)
	w.Bytes(a.Token[:])
	return w.Buf
}

// DecodeAction parses EncodeAction's output.
func DecodeAction(b []byte) (Action, error) {
	r := wire.NewReader(b)
	if v := r.U8("action version"); r.Err() == nil && v != actionVersion {
		r.Fail("action version %d, want %d", v, actionVersion)
	}
	var a Action
	a.Kind = ActionKind(r.U8("action kind"))
	if r.Err() == nil && (a.Kind < ActClose || a.Kind > ActCollect) {
		r.Fail("action kind %d, want 1..%d", a.Kind, ActCollect)
	}
	a.Domain.ChainID = r.U64("chain id")
	r.Fixed(a.Domain.Contract[:], "contract")
	r.Fixed(a.Domain.ChannelID[:], "channel id")
	a.Domain.Epoch = r.U64("epoch")
	a.Proof.Domain = a.Domain
	a.Proof.Nonce = r.U64("nonce")
	a.Proof.Transferred = r.U64("transferred")
	a.Proof.Locked = r.U64("locked")
	r.Fixed(a.Proof.Locksroot[:], "locksroot")
	r.Fixed(a.Proof.Signature[:], "signature")
	if n := r.Count(65, "delegate signature length"); n > 0 {
		a.DelegateSig = make([]byte, n)
		r.Fixed(a.DelegateSig, "delegate signature")
	}
	r.Fixed(a.Secret[:], "secret")
	r.Fixed(a.Owner[:], "owner")
	n := r.Count(channel.MaxLocks, "lock count")
	for i := 0; i < n; i++ {
		var l channel.Lock
		l.Expiration = r.U64(fmt.Sprintf("lock %d expiration", i))
		l.Amount = r.U64(fmt.Sprintf("lock %d amount", i))
		r.Fixed(l.SecretHash[:], fmt.Sprintf("lock %d secret hash", i))
		a.Locks = append(a.Locks, l)
	}
	a.WithdrawTotal = r.U64("withdraw total")
	a.WithdrawExpiry = r.U64("withdraw expiry")
	a.SettleA = r.U64("settle amount a")
	a.SettleB = r.U64("settle amount b")
	r.Fixed(a.OwnerSig[:], "owner signature")
	r.Fixed(a.PartnerSig[:], "partner signature")
	a.NotBefore = r.U64("not before")
	r.Fixed(a.Token[:], "token")
	if err := r.End("action"); err != nil {
		return Action{}, err
	}
	return a, nil
}
