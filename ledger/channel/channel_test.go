package channel

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

func TestDirectTransferMovesBalanceAndIsIdempotent(t *testing.T) {
	a, b, sa, _ := pair(t, 100)
	u, err := a.Direct(30, sa)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Receive(u, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Direct != 30 || r.Duplicate {
		t.Fatalf("received %+v, want 30 direct", r)
	}
	if b.OwnBalance() != 130 || b.PartnerBalance() != 70 || a.OwnBalance() != 70 {
		t.Fatalf("balances b=%d b.partner=%d a=%d", b.OwnBalance(), b.PartnerBalance(), a.OwnBalance())
	}
	r, err = b.Receive(u, 0)
	if err != nil || !r.Duplicate || r.Direct != 0 {
		t.Fatalf("re-sent proof: %+v, %v; want a harmless duplicate", r, err)
	}
	if b.OwnBalance() != 130 {
		t.Fatalf("duplicate changed the balance to %d", b.OwnBalance())
	}
}

func TestReceiveRefusesInvariantBreakers(t *testing.T) {
	a, b, sa, sb := pair(t, 100)
	first, err := a.Direct(10, sa)
	if err != nil {
		t.Fatal(err)
	}
	second, err := a.Direct(10, sa)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Receive(second, 0); err != nil {
		t.Fatal(err)
	}
	otherDomain := testDomain
	otherDomain.Epoch = 2
	forged := second
	forged.Proof.Nonce = 3
	forged.Proof.Transferred = 500
	forged.Proof.Signature, _ = sa.Sign(forged.Proof.Digest())
	byPartnerKey := second
	byPartnerKey.Proof.Nonce = 5
	byPartnerKey.Proof.Signature, _ = sb.Sign(byPartnerKey.Proof.Digest())
	wrongDomain := second
	wrongDomain.Proof.Domain = otherDomain
	wrongDomain.Proof.Nonce = 6
	wrongDomain.Proof.Signature, _ = sa.Sign(wrongDomain.Proof.Digest())
	tampered := second
	tampered.Proof.Nonce = 7 // signature no longer matches
	conflict := second
	conflict.Proof.Transferred = 15
	conflict.Proof.Signature, _ = sa.Sign(conflict.Proof.Digest())
	hiddenLock := second
	hiddenLock.Proof.Nonce = 8
	hiddenLock.Proof.Locked = 5 // locks list is empty
	hiddenLock.Proof.Signature, _ = sa.Sign(hiddenLock.Proof.Digest())
	cases := []struct {
		name string
		u    Update
		want error
	}{
		{"stale nonce", first, ErrStale},
		{"overspend", forged, ErrOverspend},
		{"signed by the wrong key", byPartnerKey, ErrBadSignature},
		{"wrong epoch", wrongDomain, ErrWrongDomain},
		{"tampered after signing", tampered, ErrBadSignature},
		{"same nonce different state", conflict, ErrConflict},
		{"locked amount without locks", hiddenLock, ErrInvalidLocks},
	}
	for _, tc := range cases {
		before, _ := b.MarshalBinary()
		_, err := b.Receive(tc.u, 0)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
		after, _ := b.MarshalBinary()
		if string(before) != string(after) {
			t.Errorf("%s: a refused update changed the state", tc.name)
		}
	}
}

func TestOwnOverspendIsRefusedBeforeSigning(t *testing.T) {
	a, _, sa, _ := pair(t, 100)
	if _, err := a.Direct(101, sa); !errors.Is(err, ErrOverspend) {
		t.Fatalf("err %v, want overspend", err)
	}
	if a.Own.Proof.Nonce != 0 {
		t.Fatalf("nonce advanced to %d on a refused transfer", a.Own.Proof.Nonce)
	}
	if _, err := a.Direct(^uint64(0), sa); !errors.Is(err, ErrOverspend) {
		t.Fatalf("err %v, want overspend", err)
	}
	if _, err := a.Direct(0, sa); !errors.Is(err, ErrInvalidAmount) {
		t.Fatalf("err %v, want invalid amount", err)
	}
}

func TestLockUnlockAndExpiry(t *testing.T) {
	a, b, sa, _ := pair(t, 100)
	secret := Hash{42}
	h := crypto.Keccak256Hash(secret[:])
	u, err := a.AddLock(Lock{Expiration: 50, Amount: 40, SecretHash: h}, RouteInfo{PaymentID: 7, Target: b.Own.Address}, 10, sa)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Receive(u, 10)
	if err != nil || len(r.Added) != 1 || r.Added[0].Amount != 40 {
		t.Fatalf("lock: %+v %v", r, err)
	}
	if a.OwnBalance() != 60 || b.PartnerBalance() != 60 || b.OwnBalance() != 100 {
		t.Fatalf("locked balances a=%d b.partner=%d b=%d", a.OwnBalance(), b.PartnerBalance(), b.OwnBalance())
	}
	// Removing an unexpired lock without paying it is refused.
	cheat := a.Latest()
	cheat.Proof.Nonce++
	cheat.Locks = nil
	cheat.Proof.Locked = 0
	cheat.Proof.Locksroot = Locksroot(nil)
	cheat.Proof.Signature, _ = sa.Sign(cheat.Proof.Digest())
	if _, err := b.Receive(cheat, 20); !errors.Is(err, ErrInvalidLocks) {
		t.Fatalf("unpaid removal of an unexpired lock: %v", err)
	}
	if _, err := a.Unlock(Hash{1}, 20, sa); !errors.Is(err, ErrUnknownLock) {
		t.Fatalf("unlock with a wrong secret: %v", err)
	}
	u, err = a.Unlock(secret, 20, sa)
	if err != nil {
		t.Fatal(err)
	}
	r, err = b.Receive(u, 20)
	if err != nil || len(r.Unlocked) != 1 || r.Direct != 0 {
		t.Fatalf("unlock: %+v %v", r, err)
	}
	if b.OwnBalance() != 140 || a.OwnBalance() != 60 {
		t.Fatalf("after unlock b=%d a=%d", b.OwnBalance(), a.OwnBalance())
	}
	// A second lock expires and is taken back.
	h2 := crypto.Keccak256Hash([]byte("two"))
	u, _ = a.AddLock(Lock{Expiration: 30, Amount: 5, SecretHash: h2}, RouteInfo{}, 20, sa)
	if _, err := b.Receive(u, 20); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RemoveExpired(h2, 29, sa); !errors.Is(err, ErrInvalidLocks) {
		t.Fatalf("early expiry: %v", err)
	}
	u, err = a.RemoveExpired(h2, 30, sa)
	if err != nil {
		t.Fatal(err)
	}
	r, err = b.Receive(u, 30)
	if err != nil || len(r.Expired) != 1 {
		t.Fatalf("expiry: %+v %v", r, err)
	}
	for _, c := range []*Channel{a, b} {
		if err := c.CheckInvariant(); err != nil {
			t.Fatal(err)
		}
	}
	if a.OwnBalance() != 60 {
		t.Fatalf("expired lock not returned: %d", a.OwnBalance())
	}
}

func TestSyncRecoversProofsTheStoreLost(t *testing.T) {
	a, b, sa, sb := pair(t, 100)
	lost, _ := a.MarshalBinary()
	for i := 0; i < 3; i++ {
		u, err := a.Direct(5, sa)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Receive(u, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.HandleAck(mustAck(t, b, sb)); err != nil {
		t.Fatal(err)
	}
	// A's disk is restored from an old backup: it forgot nonces 1..3.
	var restored Channel
	if err := restored.UnmarshalBinary(lost); err != nil {
		t.Fatal(err)
	}
	if err := restored.HandleAck(mustAck(t, b, sb)); !errors.Is(err, ErrPartnerAhead) {
		t.Fatalf("ack beyond the store: %v, want partner-ahead", err)
	}
	res, err := restored.HandleSync(b.SyncMessage(false))
	if err != nil || !res.Recovered {
		t.Fatalf("sync: %+v %v", res, err)
	}
	if restored.Own.Proof.Nonce != 3 || restored.Own.Proof.Transferred != 15 {
		t.Fatalf("recovered nonce %d transferred %d", restored.Own.Proof.Nonce, restored.Own.Proof.Transferred)
	}
	u, err := restored.Direct(1, sa)
	if err != nil || u.Proof.Nonce != 4 {
		t.Fatalf("next proof %d %v, want nonce 4", u.Proof.Nonce, err)
	}
	if _, err := b.Receive(u, 0); err != nil {
		t.Fatal(err)
	}
	res, err = b.HandleSync(restored.SyncMessage(false))
	if err != nil || res.Resend || res.Recovered {
		t.Fatalf("sync after recovery: %+v %v", res, err)
	}
}

// TestUnlockRefusesAnExpiredLock: once a lock has expired the payer must not pay it any more (its
// own incoming lock upstream has expired before it, so nobody would pay the payer back).
func TestUnlockRefusesAnExpiredLock(t *testing.T) {
	a, b, sa, _ := pair(t, 100)
	secret := Hash{3}
	lock := Lock{Expiration: 50, Amount: 40, SecretHash: crypto.Keccak256Hash(secret[:])}
	u, err := a.AddLock(lock, RouteInfo{}, 10, sa)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Receive(u, 10); err != nil {
		t.Fatal(err)
	}
	for _, now := range []uint64{50, 51, 1000} {
		if _, err := a.Unlock(secret, now, sa); !errors.Is(err, ErrLockExpired) {
			t.Fatalf("unlock at %d of a lock expiring at 50: %v, want ErrLockExpired", now, err)
		}
	}
	if a.Own.Proof.Transferred != 0 || len(a.Own.Locks) != 1 {
		t.Fatalf("a refused unlock changed the channel: %+v", a.Own.Proof)
	}
	if _, err := a.Unlock(secret, 49, sa); err != nil {
		t.Fatalf("unlock before expiry: %v", err)
	}
}

func mustAck(t testing.TB, c *Channel, s Signer) Ack {
	t.Helper()
	a, err := c.AckFor(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestForgedAckIsRefused: an ack not signed by the partner (a spoofed sender on the transport)
// neither confirms our proofs nor claims the partner is ahead of our store.
func TestForgedAckIsRefused(t *testing.T) {
	a, _, sa, sb := pair(t, 100)
	if _, err := a.Direct(5, sa); err != nil {
		t.Fatal(err)
	}
	mallory := NewKeySigner(testKey(t, 3))
	for _, nonce := range []uint64{1, 1000} {
		forged := Ack{ChannelID: a.Domain.ChannelID, Epoch: a.Domain.Epoch, Nonce: nonce}
		if err := a.HandleAck(forged); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("unsigned ack of %d: %v, want a bad signature", nonce, err)
		}
		forged.Signature, _ = mallory.Sign(AckDigest(a.Domain, nonce))
		if err := a.HandleAck(forged); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("ack of %d signed by a stranger: %v, want a bad signature", nonce, err)
		}
		forged.Signature, _ = sb.Sign(AckDigest(Domain{ChainID: 99}, nonce))
		if err := a.HandleAck(forged); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("ack of %d signed for another domain: %v, want a bad signature", nonce, err)
		}
	}
	if a.Acked != 0 {
		t.Fatalf("forged acks moved Acked to %d", a.Acked)
	}
}
