package chain

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// TestSecondChannelDoesNotJamTheWatcher reproduces the attack of the security review: A pays B
// 200 in a native channel, opens a second, empty channel with B under a bogus token, and closes
// the first with no proof. B's watcher must still answer the stale close, so settlement pays
// A 800 and B 200 (before the fix, the second ChannelOpened failed in B's node, the watcher
// stopped at that log forever and settle paid A 1000, B 0).
func TestSecondChannelDoesNotJamTheWatcher(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	hub := transport.NewHub()
	dir := t.TempDir()
	a := startUnit(t, hub, c.sa, c.a, filepath.Join(dir, "a.db"))
	b := startUnit(t, hub, c.sb, c.b, filepath.Join(dir, "b.db"))
	d, r, err := c.a.Open(ctx, c.sb.Address(), native, 600, 1000)
	c.must(t, "open")(r, err)
	a.step(t)
	b.step(t)
	if err := a.node.Pay(ctx, c.sb.Address(), 200, 1); err != nil {
		t.Fatal(err)
	}

	bogus := common.HexToAddress("0x00000000000000000000000000000000000bad01")
	_, r, err = c.a.Open(ctx, c.sb.Address(), bogus, 600, 0)
	c.must(t, "open bogus")(r, err)
	c.must(t, "close without proof")(c.a.Close(ctx, d, channel.BalanceProof{}))

	for i := 0; i < 2; i++ {
		if reachable, err := b.keeper.Step(ctx); !reachable || err != nil {
			t.Errorf("b's keeper step %d: reachable %v, %v", i, reachable, err)
		}
	}
	if b.keeper.Watcher.Answered != 1 {
		t.Errorf("b answered %d stale closes, want 1", b.keeper.Watcher.Answered)
	}
	c.pass(t, 601*time.Second)
	_, _ = b.keeper.Step(ctx)
	if st, err := c.contract.Channel(ctx, d.ChannelID); err == nil && st.State == 2 {
		c.must(t, "settle by a")(c.a.Settle(ctx, d))
	}
	c.expectPayout(t, settledLog(t, c.sim.Client(), c), 800, 200)
}
