package ledger

import (
	"bytes"
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
