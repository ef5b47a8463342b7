package mesh

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
)

func signedEnvelope(t testing.TB, seed uint64, seq uint64) *Envelope {
	t.Helper()
	e := &Envelope{Code: CodeMarket, Community: "c", Seq: seq, ExpiryMs: uint64(simEpoch.Add(time.Hour).UnixMilli()), Payload: []byte("bid 3 kWh at 12")}
	if err := e.Sign(SeededKey(seed, 0)); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEnvelopeRoundTripAndSignature(t *testing.T) {
	e := signedEnvelope(t, 1, 7)
	e.Hops = 3
	got, err := DecodeEnvelope(e.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(); err != nil {
		t.Fatalf("relayed envelope (hops %d) does not verify: %v", got.Hops, err)
	}
	if got.Author != crypto.PubkeyToAddress(SeededKey(1, 0).PublicKey) || got.Seq != 7 || got.Hops != 3 || !bytes.Equal(got.Payload, e.Payload) {
		t.Fatalf("round trip changed the envelope: %+v", got)
	}
	for name, tamper := range map[string]func(*Envelope){
		"payload":   func(x *Envelope) { x.Payload = []byte("bid 3 kWh at 1") },
		"seq":       func(x *Envelope) { x.Seq++ },
		"expiry":    func(x *Envelope) { x.ExpiryMs++ },
		"community": func(x *Envelope) { x.Community = "d" },
		"to":        func(x *Envelope) { x.To[0] = 1 },
		"code":      func(x *Envelope) { x.Code = CodeLedger },
		"author":    func(x *Envelope) { x.Author = crypto.PubkeyToAddress(SeededKey(2, 0).PublicKey) },
	} {
		x, _ := DecodeEnvelope(e.Encode())
		tamper(x)
		if err := x.Verify(); !errors.Is(err, ErrBadSignature) {
			t.Errorf("tampered %s: Verify = %v, want a bad signature", name, err)
		}
	}
}

func TestEnvelopeHighSRefused(t *testing.T) {
	e := signedEnvelope(t, 1, 1)
	n := crypto.S256().Params().N
	s := new(bigInt).SetBytes(e.Sig[32:64])
	s.Sub(n, s)
	copy(e.Sig[32:64], s.FillBytes(make([]byte, 32)))
	e.Sig[64] ^= 1
	if err := e.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("malleated high-s signature: %v", err)
	}
}

func TestDecodeEnvelopeErrorsSayWhat(t *testing.T) {
	e := signedEnvelope(t, 1, 1)
	e.Payload = make([]byte, 64<<10+1)
	if _, err := DecodeEnvelope(e.Encode()); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized market payload: %v", err)
	}
	e = signedEnvelope(t, 1, 1)
	e.Code = 0x55
	if _, err := DecodeEnvelope(e.Encode()); !errors.Is(err, ErrUnknownCode) {
		t.Fatalf("unknown code: %v", err)
	}
	if _, err := DecodeEnvelope([]byte{0xc1, 0x80, 0x00}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
	e = signedEnvelope(t, 1, 1)
	e.Sig = e.Sig[:10]
	if _, err := DecodeEnvelope(e.Encode()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short signature: %v", err)
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	good := signedEnvelope(f, 1, 1).Encode()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte{0xc0})
	f.Add(append([]byte{0xf9, 0xff, 0xff}, good...))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEnvelope(b)
		if err != nil {
			return
		}
		_ = e.Verify()
		again, err := DecodeEnvelope(e.Encode())
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v", err)
		}
		if !bytes.Equal(again.Encode(), e.Encode()) {
			t.Fatal("encode is not stable")
		}
	})
}
