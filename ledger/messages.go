package ledger

import (
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/internal/wire"
)

// Payment messages of mediated transfers (kinds 16 and up; the channel package owns the rest).
const (
	KindSecretRequest channel.Kind = 16
	KindSecretReveal  channel.Kind = 17
)

// SecretRequest is sent by the target of a mediated transfer to its initiator once the lock has
// reached it, asking for the secret.
type SecretRequest struct {
	PaymentID  uint64
	SecretHash channel.Hash
	Amount     uint64
}

// SecretReveal carries a lock's secret backwards along the route.
type SecretReveal struct {
	Secret channel.Hash
}

// EncodeSecretRequest is the wire form of a SecretRequest.
func EncodeSecretRequest(m SecretRequest) []byte {
	w := &wire.Writer{Buf: make([]byte, 0, 49)}
	w.U8(uint8(KindSecretRequest))
	w.U64(m.PaymentID)
	w.Bytes(m.SecretHash[:])
	w.U64(m.Amount)
	return w.Buf
}

// DecodeSecretRequest parses EncodeSecretRequest's output.
func DecodeSecretRequest(b []byte) (SecretRequest, error) {
	r := wire.NewReader(b)
	if k := channel.Kind(r.U8("message kind")); r.Err() == nil && k != KindSecretRequest {
		r.Fail("message kind %d, want %d", k, KindSecretRequest)
	}
	var m SecretRequest
	m.PaymentID = r.U64("payment id")
	r.Fixed(m.SecretHash[:], "secret hash")
	m.Amount = r.U64("amount")
	if err := r.End("secret request"); err != nil {
		return SecretRequest{}, err
	}
	return m, nil
}

// EncodeSecretReveal is the wire form of a SecretReveal.
func EncodeSecretReveal(m SecretReveal) []byte {
	w := &wire.Writer{Buf: make([]byte, 0, 33)}
	w.U8(uint8(KindSecretReveal))
	w.Bytes(m.Secret[:])
	return w.Buf
}

// DecodeSecretReveal parses EncodeSecretReveal's output.
func DecodeSecretReveal(b []byte) (SecretReveal, error) {
	r := wire.NewReader(b)
	if k := channel.Kind(r.U8("message kind")); r.Err() == nil && k != KindSecretReveal {
		r.Fail("message kind %d, want %d", k, KindSecretReveal)
	}
	var m SecretReveal
	r.Fixed(m.Secret[:], "secret")
	if err := r.End("secret reveal"); err != nil {
		return SecretReveal{}, err
	}
	return m, nil
}
