package chain

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// unit is a ledger node with its chain duties, as a MeshBox runs them.
type unit struct {
	node   *ledger.Node
	queue  *Queue
	keeper *Keeper
}

func startUnit(t *testing.T, hub *transport.Hub, s *channel.KeySigner, ad *Adapter, path string) *unit {
	t.Helper()
	return startUnitClock(t, hub, s, ad, path, clock.Real{})
}

func startUnitClock(t *testing.T, hub *transport.Hub, s *channel.KeySigner, ad *Adapter, path string, clk clock.Clock) *unit {
	t.Helper()
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ep := hub.Join(s.Address())
	// The tests open channels with the contract's shortest settle timeout (10 min).
	n, err := ledger.NewNode(ledger.Config{Signer: s, Store: st, Transport: ep, Clock: clk,
		MinSettleTimeout: MinSettleTimeout * time.Second, LockTimeout: 5 * time.Minute, RevealMargin: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(); ep.Close(); st.Close() })
	q, err := NewQueue(ad, st)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWatcher(ad, q, NodeProofs(n), 0)
	w.Listener = NodeListener{Node: n}
	return &unit{node: n, queue: q, keeper: &Keeper{Watcher: w, Queue: q, Node: n, Clock: clk}}
}

func (u *unit) step(t *testing.T) {
	t.Helper()
	if reachable, err := u.keeper.Step(context.Background()); !reachable || err != nil {
		t.Fatalf("keeper: reachable %v, %v", reachable, err)
	}
}

// TestNodeFollowsChainWithdrawsAndSettles: channels opened and funded on chain appear in the
// nodes by themselves, a withdrawal negotiated off chain executes on chain, and the channel
// settles to the off-chain balances.
func TestNodeFollowsChainWithdrawsAndSettles(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	hub := transport.NewHub()
	dir := t.TempDir()
	a := startUnit(t, hub, c.sa, c.a, filepath.Join(dir, "a.db"))
	b := startUnit(t, hub, c.sb, c.b, filepath.Join(dir, "b.db"))

	d, r, err := c.a.Open(ctx, c.sb.Address(), native, 600, 1000)
	c.must(t, "open")(r, err)
	c.must(t, "deposit")(c.b.Deposit(ctx, d, native, 300))
	a.step(t)
	b.step(t)
	if i := b.node.Channel(c.sa.Address()); !i.Found || i.OwnBalance != 300 || i.PartnerBal != 1000 {
		t.Fatalf("b's view after the chain events: %+v", i)
	}

	if err := a.node.Pay(ctx, c.sb.Address(), 200, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.node.Pay(ctx, c.sa.Address(), 50, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := a.node.Withdraw(ctx, c.sb.Address(), 900, uint64(time.Now().Add(time.Hour).Unix())); err == nil {
		t.Fatal("withdrawing more than the balance was confirmed")
	}
	wp, err := a.node.Withdraw(ctx, c.sb.Address(), 100, uint64(time.Now().Add(time.Hour).Unix()))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.queue.Enqueue(Action{Kind: ActWithdraw, Domain: wp.Domain, Owner: wp.Who, WithdrawTotal: wp.Total,
		WithdrawExpiry: wp.Expiry, OwnerSig: wp.WhoSig, PartnerSig: wp.PartnerSig}); err != nil {
		t.Fatal(err)
	}
	a.step(t) // sends the withdrawal
	a.step(t) // sees it executed
	b.step(t)
	if i := a.node.Channel(c.sb.Address()); i.OwnBalance != 750 {
		t.Fatalf("a's balance after withdrawing: %d, want 1000-200+50-100", i.OwnBalance)
	}
	if i := b.node.Channel(c.sa.Address()); i.PartnerBal != 750 || i.OwnBalance != 450 {
		t.Fatalf("b's view after a's withdrawal: a %d, b %d", i.PartnerBal, i.OwnBalance)
	}
	t.Logf("gas withdraw (queued) %d", a.queue.Gas[ActWithdraw])

	if err := a.queue.Enqueue(Action{Kind: ActClose, Domain: d, Proof: a.node.Channel(c.sb.Address()).Partner}); err != nil {
		t.Fatal(err)
	}
	a.step(t)
	b.step(t) // b's watcher answers with a's latest proof
	c.pass(t, 601*time.Second)
	a.step(t)
	b.step(t)
	r = settledLog(t, c.sim.Client(), c)
	c.expectPayout(t, r, 750, 450)
}

// TestNodesSettleCooperatively: the two nodes agree on final balances off chain and the chain pays
// them out in one transaction.
func TestNodesSettleCooperatively(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	hub := transport.NewHub()
	dir := t.TempDir()
	a := startUnit(t, hub, c.sa, c.a, filepath.Join(dir, "a.db"))
	b := startUnit(t, hub, c.sb, c.b, filepath.Join(dir, "b.db"))
	d, r, err := c.a.Open(ctx, c.sb.Address(), native, 600, 1000)
	c.must(t, "open")(r, err)
	c.must(t, "deposit")(c.b.Deposit(ctx, d, native, 300))
	a.step(t)
	b.step(t)
	for i := uint64(1); i <= 20; i++ {
		if err := a.node.Pay(ctx, c.sb.Address(), 10, i); err != nil {
			t.Fatal(err)
		}
	}
	sp, err := a.node.CooperativeSettle(ctx, c.sb.Address())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.node.Pay(ctx, c.sb.Address(), 1, 99); err == nil {
		t.Fatal("paid on a channel being settled")
	}
	if err := a.queue.Enqueue(Action{Kind: ActCooperativeSettle, Domain: sp.Domain, SettleA: sp.AmountA, SettleB: sp.AmountB,
		OwnerSig: sp.SigA, PartnerSig: sp.SigB}); err != nil {
		t.Fatal(err)
	}
	a.step(t)
	if len(a.queue.Failed) != 0 {
		t.Fatalf("cooperative settle refused: %v", a.queue.Failed)
	}
	t.Logf("gas cooperative settle (queued) %d", a.queue.Gas[ActCooperativeSettle])
	c.expectPayout(t, settledLog(t, c.sim.Client(), c), 800, 500)
	a.step(t) // collects the payout credited to a
	if owed, err := c.a.Owed(ctx, native, c.sa.Address()); err != nil || owed.Sign() != 0 || a.queue.Gas[ActCollect] == 0 {
		t.Fatalf("after the keeper's collect: owed %v (%v), gas %d", owed, err, a.queue.Gas[ActCollect])
	}
}

// TestWithdrawalReleasedByChainTimeOnly: an agreed withdrawal that never reached the chain stops
// reserving the funds once the chain's time is past its expiry, and only then: a unit whose clock
// runs ahead must not release it while the chain could still execute it.
func TestWithdrawalReleasedByChainTimeOnly(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	hub := transport.NewHub()
	dir := t.TempDir()
	head, err := c.sim.Client().HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewSim(time.Unix(int64(head.Time), 0))
	a := startUnitClock(t, hub, c.sa, c.a, filepath.Join(dir, "a.db"), clk)
	b := startUnitClock(t, hub, c.sb, c.b, filepath.Join(dir, "b.db"), clk)
	_, r, err := c.a.Open(ctx, c.sb.Address(), native, 600, 1000)
	c.must(t, "open")(r, err)
	a.step(t)
	b.step(t)
	if _, err := a.node.Withdraw(ctx, c.sb.Address(), 100, head.Time+60); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour) // the units' clocks run ahead; the chain's has not moved
	a.step(t)
	b.step(t)
	if ia, ib := a.node.Channel(c.sb.Address()), b.node.Channel(c.sa.Address()); ia.OwnBalance != 900 || ib.PartnerBal != 900 {
		t.Fatalf("released by the local clock: a %d, b sees %d; want 900 (still reserved)", ia.OwnBalance, ib.PartnerBal)
	}
	c.pass(t, 2*time.Minute)
	a.step(t)
	b.step(t)
	if ia, ib := a.node.Channel(c.sb.Address()), b.node.Channel(c.sa.Address()); ia.OwnBalance != 1000 || ib.PartnerBal != 1000 {
		t.Fatalf("after the chain passed the expiry: a %d, b sees %d; want 1000", ia.OwnBalance, ib.PartnerBal)
	}
}
