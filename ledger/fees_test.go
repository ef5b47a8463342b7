package ledger

import (
	"errors"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/ledger/channel"
)

// feeNet is the 3-hop bench topology A→B→C→D over loopback TCP with durable stores, where the
// mediators B and C charge fees.
func feeNet(t *testing.T, configure func(i int, c *Config)) (a, b, c, d *Node) {
	t.Helper()
	bn, err := newBenchNet(4, t.TempDir(), 1000, configure)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bn.close)
	return bn.nodes[0], bn.nodes[1], bn.nodes[2], bn.nodes[3]
}

func mediatorFees(i int, c *Config) {
	switch i {
	case 1:
		c.MediationFee = FeeSchedule{Flat: 2}
	case 2:
		c.MediationFee = FeeSchedule{PPM: 100_000} // 10 %
	}
}

// waitFor polls cond until it holds or the deadline passes (robust on a loaded machine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMediatorsKeepTheirFees: with a budget that covers both fees, the target receives at least
// the amount, and each mediator ends up richer by exactly its fee.
func TestMediatorsKeepTheirFees(t *testing.T) {
	a, b, c, d := feeNet(t, mediatorFees)
	route := []channel.Address{b.Address(), c.Address(), d.Address()}
	// A locks 50+8 = 58; B keeps 2 and locks 56; C keeps 10 % (5) and locks 51 ≥ 50.
	if err := a.PayRouteWithFee(ctxT(t), route, 50, 8, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every lock is unlocked", func() bool {
		return b.Channel(a.Address()).PartnerLocked == 0 && c.Channel(b.Address()).PartnerLocked == 0 && d.Channel(c.Address()).PartnerLocked == 0
	})
	if got := b.Channel(a.Address()).Received; got != 58 {
		t.Fatalf("B received %d from A, want 58", got)
	}
	if got := c.Channel(b.Address()).Received; got != 56 {
		t.Fatalf("C received %d from B, want 56 (B kept its flat 2)", got)
	}
	if got := d.Channel(c.Address()).Received; got != 51 {
		t.Fatalf("D received %d from C, want 51 (C kept 10 %% of 56)", got)
	}
	for _, m := range []struct {
		name     string
		n        *Node
		up, down channel.Address
		fee      uint64
	}{{"B", b, a.Address(), c.Address(), 2}, {"C", c, b.Address(), d.Address(), 5}} {
		total := m.n.Channel(m.up).OwnBalance + m.n.Channel(m.down).OwnBalance
		if total != 2000+m.fee {
			t.Fatalf("mediator %s holds %d over its two channels, want %d (its fee %d)", m.name, total, 2000+m.fee, m.fee)
		}
	}
}

// TestFeesAboveTheBudgetFailTheRoute: when the mediators keep more than the budget, the target
// would receive less than the amount, so the initiator never reveals the secret: the call fails
// at once and nothing is paid.
func TestFeesAboveTheBudgetFailTheRoute(t *testing.T) {
	a, b, c, d := feeNet(t, mediatorFees)
	route := []channel.Address{b.Address(), c.Address(), d.Address()}
	// A locks 56; B locks 54; C keeps 5 and locks 49 < 50.
	err := a.PayRouteWithFee(ctxT(t), route, 50, 6, 1)
	if !errors.Is(err, ErrRouteFailed) {
		t.Fatalf("PayRouteWithFee with a short budget: %v, want ErrRouteFailed", err)
	}
	if got := d.Channel(c.Address()); got.Received != 0 || got.PartnerLocked != 49 {
		t.Fatalf("D received %d with %d locked, want 0 and 49 (the lock expires unpaid)", got.Received, got.PartnerLocked)
	}
	// The outcome is on disk: a retry of the same id says so and pays nothing.
	if err := a.PayRouteWithFee(ctxT(t), route, 50, 6, 1); !errors.Is(err, ErrRouteFailed) {
		t.Fatalf("retry of the failed payment: %v, want ErrRouteFailed", err)
	}
}

// TestFailedRouteIsRefunded: C cannot forward (its channel to D is nearly spent), so it refunds
// its incoming lock to B, B refunds to A, and A's call fails at once with ErrRouteFailed. Every
// channel on the way then holds a lock and its refund, which cancel out whatever happens to the
// secret; at their expiry both leave the proofs and every balance is back where it was.
func TestFailedRouteIsRefunded(t *testing.T) {
	a, b, c, d := feeNet(t, func(i int, c *Config) {
		c.LockTimeout, c.RevealMargin = 4*time.Second, time.Second
	})
	if err := c.Pay(ctxT(t), d.Address(), 995, 1); err != nil {
		t.Fatal(err)
	}
	route := []channel.Address{b.Address(), c.Address(), d.Address()}
	start := time.Now()
	err := a.PayRoute(ctxT(t), route, 10, 7)
	if !errors.Is(err, ErrRouteFailed) {
		t.Fatalf("PayRoute through a hop that cannot forward: %v, want ErrRouteFailed", err)
	}
	t.Logf("failure reported to the initiator after %v", time.Since(start))
	ab, ba := a.Channel(b.Address()), b.Channel(a.Address())
	if ab.OwnLocked != 10 || ab.PartnerLocked != 10 {
		t.Fatalf("A–B at A: own locked %d, partner locked %d; want 10 and 10 (the lock and its refund)", ab.OwnLocked, ab.PartnerLocked)
	}
	if ba.OwnLocked != 10 || ba.PartnerLocked != 10 {
		t.Fatalf("A–B at B: own locked %d, partner locked %d; want 10 and 10", ba.OwnLocked, ba.PartnerLocked)
	}
	waitFor(t, "C's refund to B reaches B", func() bool { return b.Channel(c.Address()).PartnerLocked == 10 })
	if cd := c.Channel(d.Address()); cd.OwnLocked != 0 || d.Channel(c.Address()).Received != 995 {
		t.Fatalf("C–D: C locked %d towards D, D received %d; want 0 and 995 (nothing forwarded)", cd.OwnLocked, d.Channel(c.Address()).Received)
	}
	if b.Stats().Refunds != 1 || c.Stats().Refunds != 1 {
		t.Fatalf("refunds signed: B %d, C %d; want 1 each", b.Stats().Refunds, c.Stats().Refunds)
	}
	if err := a.PayRoute(ctxT(t), route, 10, 7); !errors.Is(err, ErrRouteFailed) {
		t.Fatalf("retry of the refunded payment: %v, want ErrRouteFailed", err)
	}
	// At expiry the locks and refunds leave every proof; nobody has paid anybody.
	waitFor(t, "every lock and refund has expired", func() bool {
		for _, in := range []Info{a.Channel(b.Address()), b.Channel(a.Address()), b.Channel(c.Address()), c.Channel(b.Address())} {
			if in.OwnLocked != 0 || in.PartnerLocked != 0 {
				return false
			}
		}
		return true
	})
	for _, x := range []struct {
		name string
		in   Info
	}{{"A–B at A", a.Channel(b.Address())}, {"A–B at B", b.Channel(a.Address())}, {"B–C at B", b.Channel(c.Address())}, {"B–C at C", c.Channel(b.Address())}} {
		if x.in.OwnBalance != 1000 || x.in.PartnerBal != 1000 || x.in.Sent != 0 || x.in.Received != 0 {
			t.Fatalf("%s after expiry: balances %d/%d, sent %d received %d; want 1000/1000 and nothing moved", x.name, x.in.OwnBalance, x.in.PartnerBal, x.in.Sent, x.in.Received)
		}
	}
}

func TestFeeScheduleOf(t *testing.T) {
	for _, c := range []struct {
		f      FeeSchedule
		amount uint64
		want   uint64
	}{
		{FeeSchedule{}, 1000, 0},
		{FeeSchedule{Flat: 2}, 1000, 2},
		{FeeSchedule{PPM: 100_000}, 56, 5},                                   // 10 %, rounded down
		{FeeSchedule{Flat: 1, PPM: 1}, 999_999, 1},                           // below one part per million
		{FeeSchedule{PPM: 999_999}, ^uint64(0), ^uint64(0) - 18446744073710}, // no overflow in the product
		{FeeSchedule{Flat: ^uint64(0), PPM: 1}, 1_000_000, ^uint64(0)},       // saturates
	} {
		if got := c.f.Of(c.amount); got != c.want {
			t.Errorf("%+v of %d = %d, want %d", c.f, c.amount, got, c.want)
		}
	}
}
