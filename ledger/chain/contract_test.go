package chain

import (
	"context"
	"errors"
	"github.com/ethereum/go-ethereum/core/types"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/ledger/channel"
)

var native = common.Address{}

func TestOpenDepositWithdrawCooperativeSettle(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	d, r, err := c.a.Open(ctx, c.sb.Address(), native, 600, 1000)
	c.must(t, "open")(r, err)
	c.must(t, "deposit")(c.b.Deposit(ctx, d, native, 500))
	ca, cb := c.channels(d, 1000, 500)
	pay(t, ca, cb, c.sa, 300)

	// A withdraws 100 while the channel stays open; B vouches for it.
	expiry := uint64(time.Now().Add(time.Hour).Unix())
	wd := channel.WithdrawDigest(d, c.sa.Address(), 100, expiry)
	sigA, _ := c.sa.Sign(wd)
	sigB, _ := c.sb.Sign(wd)
	c.must(t, "withdraw")(c.b.Withdraw(ctx, d, c.sa.Address(), 100, expiry, sigA, sigB))
	if _, err := c.b.Withdraw(ctx, d, c.sa.Address(), 100, expiry, sigA, sigB); !errors.Is(err, ErrReverted) {
		t.Fatalf("replayed withdrawal: %v, want revert", err)
	}
	for _, ch := range []*channel.Channel{ca, cb} {
		if err := ch.SetWithdrawn(c.sa.Address(), 100); err != nil {
			t.Fatal(err)
		}
	}

	// Cooperative settle at the off-chain balances: a 1000−100−300, b 500+300.
	amountA, amountB := ca.OwnBalance(), cb.OwnBalance()
	lo, hi, loAmount, hiAmount := c.sa, c.sb, amountA, amountB
	if c.sb.Address().Cmp(c.sa.Address()) < 0 {
		lo, hi, loAmount, hiAmount = c.sb, c.sa, amountB, amountA
	}
	cd := channel.CooperativeSettleDigest(d, lo.Address(), loAmount, hi.Address(), hiAmount)
	sLo, _ := lo.Sign(cd)
	sHi, _ := hi.Sign(cd)
	r = c.must(t, "cooperative settle")(c.a.CooperativeSettle(ctx, d, loAmount, hiAmount, sLo, sHi))
	c.expectPayout(t, r, 600, 800)
}

func TestStaleCloseAnsweredByCounterparty(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	d, r, err := c.a.Open(ctx, c.sb.Address(), native, 600, 1000)
	c.must(t, "open")(r, err)
	c.must(t, "deposit")(c.b.Deposit(ctx, d, native, 500))
	ca, cb := c.channels(d, 1000, 500)
	old := pay(t, ca, cb, c.sa, 10).Proof
	pay(t, ca, cb, c.sa, 50)
	fromB := pay(t, cb, ca, c.sb, 5).Proof

	// A closes, hoping B never submits A's transfers.
	c.must(t, "close")(c.a.Close(ctx, d, fromB))
	// B answers, first with an old proof it happened to hold, then with the newest.
	c.must(t, "update proof")(c.b.UpdateProof(ctx, d, old, nil))
	c.must(t, "update proof newer")(c.b.UpdateProof(ctx, d, cb.Partner.Proof, nil))
	if _, err := c.b.UpdateProof(ctx, d, old, nil); !errors.Is(err, ErrReverted) {
		t.Fatalf("going back to an older proof: %v, want revert", err)
	}
	if _, err := c.a.Settle(ctx, d); !errors.Is(err, ErrReverted) {
		t.Fatalf("settle inside the timeout: %v, want revert", err)
	}
	c.pass(t, 601*time.Second)
	r = c.must(t, "settle")(c.b.Settle(ctx, d))
	c.expectPayout(t, r, 1000-60+5, 500+60-5)
}

func TestStaleCloseAnsweredByDelegate(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	d, r, err := c.a.Open(ctx, c.sb.Address(), native, 600, 1000)
	c.must(t, "open")(r, err)
	ca, cb := c.channels(d, 1000, 0)
	for i := 0; i < 5; i++ {
		pay(t, ca, cb, c.sa, 20)
	}
	// B hands its neighbour W the latest proof it holds from A with a delegation signature.
	latest := cb.Partner.Proof
	delegation, _ := c.sb.Sign(channel.DelegateDigest(d, latest.Digest()))
	c.must(t, "close")(c.a.Close(ctx, d, channel.BalanceProof{}))
	// Without B's signature W may not update.
	if _, err := c.w.UpdateProof(ctx, d, latest, make([]byte, 65)); !errors.Is(err, ErrReverted) {
		t.Fatalf("delegate without signature: %v, want revert", err)
	}
	c.must(t, "update by delegate")(c.w.UpdateProof(ctx, d, latest, delegation[:]))
	c.pass(t, 601*time.Second)
	r = c.must(t, "settle")(c.w.Settle(ctx, d))
	c.expectPayout(t, r, 900, 100)
}

// TestUnlockPaysRegisteredSecretsAndReturnsExpired: after settlement, a lock whose secret was
// registered before its expiry goes to the receiver, and one that expired unrevealed goes back to
// its owner (unlock waits until it has expired).
func TestUnlockPaysRegisteredSecretsAndReturnsExpired(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	d, r, err := c.a.Open(ctx, c.sb.Address(), native, 600, 1000)
	c.must(t, "open")(r, err)
	ca, cb := c.channels(d, 1000, 0)
	now := uint64(time.Now().Unix())
	secret := channel.Hash{7}
	paidLock := channel.Lock{Expiration: now + 3600, Amount: 40, SecretHash: crypto.Keccak256Hash(secret[:])}
	lostLock := channel.Lock{Expiration: now + 3600, Amount: 30, SecretHash: crypto.Keccak256Hash([]byte("never revealed"))}
	for _, l := range []channel.Lock{paidLock, lostLock} {
		u, err := ca.AddLock(l, channel.RouteInfo{}, now, c.sa)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cb.Receive(u, now); err != nil {
			t.Fatal(err)
		}
	}
	pay(t, ca, cb, c.sa, 100)
	c.must(t, "register secret")(c.b.RegisterSecret(ctx, secret))
	c.must(t, "close")(c.b.Close(ctx, d, cb.Partner.Proof))
	c.pass(t, 601*time.Second)
	r = c.must(t, "settle")(c.b.Settle(ctx, d))
	c.expectPayout(t, r, 1000-100-70, 100)
	c.pass(t, 3600*time.Second) // the unrevealed lock expires
	r = c.must(t, "unlock")(c.b.Unlock(ctx, d, c.sa.Address(), cb.Partner.Locks))
	expectUnlocked(t, c, r, 40, 30)
}

// TestUnlockWaitsForUnregisteredLocksToExpire is the mediator attack of the security review: the
// lock's owner settles and calls unlock before the lock expires and before the receiver (a
// mediator that learns the secret later) registers the secret. Unlock must refuse until the lock
// has expired, so the receiver still has time to register the secret and be paid.
func TestUnlockWaitsForUnregisteredLocksToExpire(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	d, r, err := c.a.Open(ctx, c.sb.Address(), native, 600, 1000)
	c.must(t, "open")(r, err)
	ca, cb := c.channels(d, 1000, 0)
	now := uint64(time.Now().Unix())
	secret := channel.Hash{9}
	lock := channel.Lock{Expiration: now + 3600, Amount: 40, SecretHash: crypto.Keccak256Hash(secret[:])}
	u, err := ca.AddLock(lock, channel.RouteInfo{}, now, c.sa)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Receive(u, now); err != nil {
		t.Fatal(err)
	}
	c.must(t, "close")(c.b.Close(ctx, d, cb.Partner.Proof))
	c.pass(t, 601*time.Second)
	c.must(t, "settle")(c.a.Settle(ctx, d))
	if r, err := c.a.Unlock(ctx, d, c.sa.Address(), cb.Partner.Locks); err == nil {
		expectUnlocked(t, c, r, 0, 40)
		t.Fatal("unlock before expiry returned the unrevealed lock to its owner")
	}
	c.must(t, "register secret late")(c.b.RegisterSecret(ctx, secret))
	c.pass(t, 3600*time.Second)
	r = c.must(t, "unlock")(c.a.Unlock(ctx, d, c.sa.Address(), cb.Partner.Locks))
	expectUnlocked(t, c, r, 40, 0)
}

func expectUnlocked(t *testing.T, c *simChain, r *types.Receipt, paid, returned uint64) {
	t.Helper()
	for _, l := range r.Logs {
		if ev, err := c.contract.abi.UnpackUnlockedEvent(l); err == nil {
			if ev.Paid.Uint64() != paid || ev.Returned.Uint64() != returned {
				t.Fatalf("unlock paid %d returned %d, want %d and %d", ev.Paid, ev.Returned, paid, returned)
			}
			return
		}
	}
	t.Fatal("no Unlocked event")
}

// TestStaleCloseWithPaidOffLockLeavesTheDebt is the defect the invariant test found: the cheater
// is paid a lock off chain, withdraws it, then closes with the honest partner's OLD proof, which
// still holds that lock. The proofs on chain charge the cheater 50 more than it holds; settle used
// to clamp that to zero and the cheater then also claimed the lock with its secret, taking 50 of
// the partner's share. Now its claim on the lock repays the debt.
func TestStaleCloseWithPaidOffLockLeavesTheDebt(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	// The cheater is the lower address: the old clamp cut the higher one's locks last.
	honestAd, cheaterAd, honest, cheater := c.a, c.b, c.sa, c.sb
	if c.sa.Address().Cmp(c.sb.Address()) < 0 {
		honestAd, cheaterAd, honest, cheater = c.b, c.a, c.sb, c.sa
	}
	d, r, err := honestAd.Open(ctx, cheater.Address(), native, 600, 100)
	c.must(t, "open")(r, err)
	ch := channel.New(d, honest.Address(), cheater.Address())
	cc := channel.New(d, cheater.Address(), honest.Address())
	for _, x := range []*channel.Channel{ch, cc} {
		_ = x.SetDeposit(honest.Address(), 100)
	}
	now := uint64(time.Now().Unix())
	secret := channel.Hash{0x51}
	lock := channel.Lock{Expiration: now + 3600, Amount: 50, SecretHash: crypto.Keccak256Hash(secret[:])}
	locked, err := ch.AddLock(lock, channel.RouteInfo{}, now, honest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Receive(locked, now); err != nil {
		t.Fatal(err)
	}
	paid, err := ch.Unlock(secret, now, honest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Receive(paid, now); err != nil {
		t.Fatal(err)
	}
	expiry := now + 3600
	wd := channel.WithdrawDigest(d, cheater.Address(), 50, expiry)
	sigC, _ := cheater.Sign(wd)
	sigH, _ := honest.Sign(wd)
	c.must(t, "withdraw")(cheaterAd.Withdraw(ctx, d, cheater.Address(), 50, expiry, sigC, sigH))

	c.must(t, "close with the old proof")(cheaterAd.Close(ctx, d, locked.Proof))
	c.must(t, "register secret")(cheaterAd.RegisterSecret(ctx, secret))
	c.pass(t, 601*time.Second)
	r = c.must(t, "settle with a debt")(cheaterAd.Settle(ctx, d))
	// The honest side's 50 is cut by the 50 debt now; the cheater gets nothing at settle.
	c.expectPayout(t, r, 0, 0)
	r = c.must(t, "unlock repaying the debt")(cheaterAd.Unlock(ctx, d, honest.Address(), locked.Locks))
	expectUnlocked(t, c, r, 50, 0)
	for who, want := range map[common.Address]uint64{honest.Address(): 50, cheater.Address(): 0} {
		got, err := c.contract.Owed(ctx, native, who)
		if err != nil {
			t.Fatal(err)
		}
		if got.Uint64() != want {
			t.Fatalf("%s is owed %s after settle and unlock, its latest proofs give it %d", who, got, want)
		}
	}
}
