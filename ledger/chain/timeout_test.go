package chain

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// TestOpenRefusesSettleTimeoutOutOfBounds: a settle timeout too short to answer a stale close in,
// or so long that the close's settleAfter would overflow, is refused by the contract.
func TestOpenRefusesSettleTimeoutOutOfBounds(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	for _, timeout := range []uint64{1, MinSettleTimeout - 1, MaxSettleTimeout + 1, ^uint64(0)} {
		if _, _, err := c.a.Open(ctx, c.sb.Address(), native, timeout, 10); !errors.Is(err, ErrReverted) {
			t.Errorf("open with settle timeout %d: %v, want a revert", timeout, err)
		}
	}
	// At the largest timeout a unilateral close still works (no overflow of settleAfter).
	for _, opener := range []*Adapter{c.a, c.w} {
		timeout := uint64(MinSettleTimeout)
		if opener == c.w {
			timeout = MaxSettleTimeout
		}
		d, r, err := opener.Open(ctx, c.sb.Address(), native, timeout, 10)
		c.must(t, "open at a bound")(r, err)
		c.must(t, "close")(c.b.Close(ctx, d, channel.BalanceProof{}))
		if st, err := c.contract.Channel(ctx, d.ChannelID); err != nil || st.State != stateClosed {
			t.Fatalf("after close: %+v, %v", st, err)
		}
	}
}

// TestNodeRefusesUnexpectedChannels: a node takes only channels with a settle timeout inside its
// configured range and a token it expects; the watcher records the refusals and goes on.
func TestNodeRefusesUnexpectedChannels(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	b := startUnit(t, transport.NewHub(), c.sb, c.b, filepath.Join(t.TempDir(), "b.db"))
	bogus := common.HexToAddress("0x00000000000000000000000000000000000bad02")
	_, r, err := c.a.Open(ctx, c.sb.Address(), bogus, 3600, 0)
	c.must(t, "open unknown token")(r, err)
	_, r, err = c.w.Open(ctx, c.sb.Address(), native, MaxSettleTimeout, 0)
	c.must(t, "open huge timeout")(r, err)
	d, r, err := c.a.Open(ctx, c.sb.Address(), native, 3600, 10)
	c.must(t, "open acceptable")(r, err)
	b.step(t)
	if got := len(b.keeper.Watcher.Failures); got != 2 {
		t.Fatalf("watcher recorded %d refusals, want 2: %v", got, b.keeper.Watcher.Failures)
	}
	if i := b.node.ChannelByID(d.ChannelID); !i.Found || i.PartnerBal != 10 {
		t.Fatalf("acceptable channel: %+v", i)
	}
	if i := b.node.Channel(c.w.Self()); i.Found {
		t.Fatal("channel with a huge settle timeout accepted")
	}
}
