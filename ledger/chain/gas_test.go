package chain

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/ledger/channel"
)

// TestGasFigures measures the gas of every contract call on the simulated backend with the pull
// payments (settle and unlock credit, withdrawBalance pays) and prints them with -v:
//
//	go test ./ledger/chain -run TestGasFigures -v
//
// Each figure must stay under a block-friendly ceiling so a unit's queued action always fits.
func TestGasFigures(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	d, r, err := c.a.Open(ctx, c.sb.Address(), native, 600, 1000)
	c.must(t, "open+deposit")(r, err)
	c.must(t, "deposit")(c.b.Deposit(ctx, d, native, 500))
	ca, cb := c.channels(d, 1000, 500)
	pay(t, ca, cb, c.sa, 100)
	expiry := uint64(time.Now().Add(time.Hour).Unix())
	wd := channel.WithdrawDigest(d, c.sa.Address(), 50, expiry)
	sa, _ := c.sa.Sign(wd)
	sb, _ := c.sb.Sign(wd)
	c.must(t, "withdraw")(c.a.Withdraw(ctx, d, c.sa.Address(), 50, expiry, sa, sb))
	for _, ch := range []*channel.Channel{ca, cb} {
		_ = ch.SetWithdrawn(c.sa.Address(), 50)
	}
	now := uint64(time.Now().Unix())
	secret := channel.Hash{3}
	l := channel.Lock{Expiration: now + 3600, Amount: 40, SecretHash: crypto.Keccak256Hash(secret[:])}
	u, err := ca.AddLock(l, channel.RouteInfo{}, now, c.sa)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Receive(u, now); err != nil {
		t.Fatal(err)
	}
	pay(t, cb, ca, c.sb, 10)
	c.must(t, "close")(c.b.Close(ctx, d, cb.Partner.Proof))
	c.must(t, "update (partner)")(c.a.UpdateProof(ctx, d, ca.Partner.Proof, nil))
	c.must(t, "register secret")(c.b.RegisterSecret(ctx, secret))
	c.pass(t, 601*time.Second)
	c.must(t, "settle")(c.a.Settle(ctx, d))
	c.must(t, "unlock")(c.b.Unlock(ctx, d, c.sa.Address(), cb.Partner.Locks))
	c.must(t, "withdrawBalance")(c.a.WithdrawBalance(ctx, native))

	// A second epoch: a delegate answers a close, then a cooperative settle on a third.
	d, r, err = c.a.Open(ctx, c.sb.Address(), native, 600, 1000)
	c.must(t, "reopen+deposit")(r, err)
	ca, cb = c.channels(d, 1000, 0)
	pay(t, ca, cb, c.sa, 30)
	c.must(t, "close (no proof)")(c.a.Close(ctx, d, channel.BalanceProof{}))
	sig, _ := c.sb.Sign(channel.DelegateDigest(d, cb.Partner.Proof.Digest()))
	c.must(t, "update (delegate)")(c.w.UpdateProof(ctx, d, cb.Partner.Proof, sig[:]))
	c.pass(t, 601*time.Second)
	c.must(t, "settle (no locks)")(c.w.Settle(ctx, d))
	d, r, err = c.a.Open(ctx, c.sb.Address(), native, 600, 1000)
	c.must(t, "reopen+deposit")(r, err)
	ca, cb = c.channels(d, 1000, 0)
	pay(t, ca, cb, c.sa, 30)
	lo, hi, loAmount, hiAmount := c.sa, c.sb, ca.OwnBalance(), cb.OwnBalance()
	if c.sb.Address().Cmp(c.sa.Address()) < 0 {
		lo, hi, loAmount, hiAmount = c.sb, c.sa, hiAmount, loAmount
	}
	cd := channel.CooperativeSettleDigest(d, lo.Address(), loAmount, hi.Address(), hiAmount)
	sLo, _ := lo.Sign(cd)
	sHi, _ := hi.Sign(cd)
	c.must(t, "cooperative settle")(c.a.CooperativeSettle(ctx, d, loAmount, hiAmount, sLo, sHi))

	names := make([]string, 0, len(c.gas))
	for n := range c.gas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		g := c.gas[n]
		t.Logf("gas figure %-20s %8d", n, g)
		limit := uint64(300_000)
		if n == "deploy" {
			limit = 3_000_000
		}
		if g <= 21_000 || g > limit {
			t.Errorf("%s used %d gas, want between 21,000 and %d", n, g, limit)
		}
	}
}
