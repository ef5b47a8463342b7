package channel

import "testing"

// BenchmarkSign is the cost of signing one balance proof (the sender's floor per transfer).
func BenchmarkSign(b *testing.B) {
	s := NewKeySigner(testKey(b, 1))
	p := BalanceProof{Domain: testDomain, Nonce: 1, Transferred: 5, Locksroot: Locksroot(nil)}
	d := p.Digest()
	for b.Loop() {
		if _, err := s.Sign(d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is the cost of recovering and checking a signer (the receiver's floor).
func BenchmarkVerify(b *testing.B) {
	s := NewKeySigner(testKey(b, 1))
	p := BalanceProof{Domain: testDomain, Nonce: 1, Transferred: 5, Locksroot: Locksroot(nil)}
	d := p.Digest()
	sig, _ := s.Sign(d)
	for b.Loop() {
		if a, err := Recover(d, sig); err != nil || a != s.Address() {
			b.Fatal(err)
		}
	}
}

// BenchmarkDirectTransfer is a full sign, encode, decode, verify and apply of one transfer.
func BenchmarkDirectTransfer(b *testing.B) {
	a, r, sa, _ := pair(b, 1<<62)
	for b.Loop() {
		u, err := a.Direct(1, sa)
		if err != nil {
			b.Fatal(err)
		}
		got, err := DecodeUpdate(EncodeUpdate(u))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Receive(got, 0); err != nil {
			b.Fatal(err)
		}
	}
}
