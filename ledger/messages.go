package ledger

import (
	"fmt"

	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/internal/wire"
)

// Payment messages of mediated transfers (kinds 16 and up; the channel package owns the rest).
const (
	KindSecretRequest channel.Kind = 16
	KindSecretReveal  channel.Kind = 17
	// KindLockRoute re-sends the route of a pending lock next to a re-sent update, which carries
	// none (see LockRoute).
	KindLockRoute channel.Kind = 18
)

// LockRoute is the route of one of the sender's pending locks on a channel. An update carries the
// route of the lock it adds; an update re-sent later (unacknowledged, or after a Sync) is the
// latest proof alone, so a receiver that lost the first one, a mediator killed before its disk
// held it, would hold the lock and never forward it. Like an update's route it is not signed:
// it names where the receiver sends its own money in exchange for the lock it already holds, and
// comes from the authenticated partner.
type LockRoute struct {
	ChannelID  channel.Hash
	SecretHash channel.Hash
	Route      channel.RouteInfo
}

// EncodeLockRoute is the wire form of a LockRoute.
func EncodeLockRoute(m LockRoute) []byte {
	w := &wire.Writer{Buf: make([]byte, 0, 1+64+49+20*len(m.Route.Hops))}
	w.U8(uint8(KindLockRoute))
	w.Bytes(m.ChannelID[:])
	w.Bytes(m.SecretHash[:])
	writeRoute(w, m.Route)
	return w.Buf
}

// DecodeLockRoute parses EncodeLockRoute's output.
func DecodeLockRoute(b []byte) (LockRoute, error) {
	r := wire.NewReader(b)
	if k := channel.Kind(r.U8("message kind")); r.Err() == nil && k != KindLockRoute {
		r.Fail("message kind %d, want %d", k, KindLockRoute)
	}
	var m LockRoute
	r.Fixed(m.ChannelID[:], "lock route channel id")
	r.Fixed(m.SecretHash[:], "lock route secret hash")
	m.Route = readRoute(r)
	if err := r.End("lock route"); err != nil {
		return LockRoute{}, err
	}
	return m, nil
}

// writeRoute: payment id, initiator, target, hop count, hops.
func writeRoute(w *wire.Writer, rt channel.RouteInfo) {
	w.U64(rt.PaymentID)
	w.Bytes(rt.Initiator[:])
	w.Bytes(rt.Target[:])
	w.U8(uint8(len(rt.Hops)))
	for _, h := range rt.Hops {
		w.Bytes(h[:])
	}
}

func readRoute(r *wire.Reader) channel.RouteInfo {
	var rt channel.RouteInfo
	rt.PaymentID = r.U64("route payment id")
	r.Fixed(rt.Initiator[:], "route initiator")
	r.Fixed(rt.Target[:], "route target")
	n := r.Count(channel.MaxHops, "route hop count")
	for i := 0; i < n; i++ {
		var a channel.Address
		r.Fixed(a[:], fmt.Sprintf("route hop %d", i))
		rt.Hops = append(rt.Hops, a)
	}
	return rt
}

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
