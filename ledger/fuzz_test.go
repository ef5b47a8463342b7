package ledger

import (
	"bytes"
	"github.com/fractals-energy/fractals/ledger/channel"
	"testing"
)

func FuzzDecodeSecretRequest(f *testing.F) {
	f.Add(EncodeSecretRequest(SecretRequest{PaymentID: 9, SecretHash: [32]byte{1}, Amount: 5}))
	f.Add([]byte{byte(KindSecretRequest)})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeSecretRequest(data)
		if err == nil && !bytes.Equal(EncodeSecretRequest(m), data) {
			t.Fatal("secret request does not round-trip")
		}
	})
}

func FuzzDecodeSecretReveal(f *testing.F) {
	f.Add(EncodeSecretReveal(SecretReveal{Secret: [32]byte{3}}))
	f.Add([]byte{byte(KindSecretReveal), 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeSecretReveal(data)
		if err == nil && !bytes.Equal(EncodeSecretReveal(m), data) {
			t.Fatal("secret reveal does not round-trip")
		}
	})
}

func FuzzDecodeRoute(f *testing.F) {
	f.Add(encodeRoute(&routed{target: channel.Address{1}, first: channel.Address{2}, amount: 3, id: 4, status: routePaid}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRoute(data)
		if err == nil && !bytes.Equal(encodeRoute(r), data) {
			t.Fatal("route record does not round-trip")
		}
	})
}

func FuzzDecodeLockRoute(f *testing.F) {
	f.Add(EncodeLockRoute(LockRoute{ChannelID: channel.Hash{1}, SecretHash: channel.Hash{2},
		Route: channel.RouteInfo{PaymentID: 7, Initiator: channel.Address{3}, Target: channel.Address{4}, Hops: []channel.Address{{5}, {4}}}}))
	f.Add(EncodeLockRoute(LockRoute{}))
	f.Add([]byte{byte(KindLockRoute), 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeLockRoute(data)
		if err == nil && !bytes.Equal(EncodeLockRoute(m), data) {
			t.Fatal("lock route does not round-trip")
		}
	})
}
