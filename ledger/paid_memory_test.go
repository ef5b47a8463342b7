package ledger

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// TestPaidIdsStayBoundedAndRetriesStillPayOnce: a node that makes many payments with ids keeps
// at most PaidMemory of them in memory, and a retry of a forgotten id is answered from its record
// on disk: nothing is paid twice.
func TestPaidIdsStayBoundedAndRetriesStillPayOnce(t *testing.T) {
	const limit, payments, amount = 8, 40, 3
	dir := t.TempDir()
	hub := transport.NewHub()
	key := DeterministicKey(1)
	st, err := store.Open(filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ep := hub.Join(crypto.PubkeyToAddress(key.PublicKey))
	defer ep.Close()
	a, err := NewNode(Config{Signer: channel.NewKeySigner(key), Store: st, Transport: ep, Clock: clock.Real{},
		Resend: 40 * time.Millisecond, PaidMemory: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := startHubNode(t, hub, 2, filepath.Join(dir, "b.db"))
	link(t, a, b.Node, 1000)
	for id := uint64(1); id <= payments; id++ {
		if err := a.Pay(ctxT(t), b.Address(), amount, id); err != nil {
			t.Fatal(err)
		}
	}
	for id := uint64(1); id <= payments; id++ { // every retry, remembered or forgotten
		if err := a.Pay(ctxT(t), b.Address(), amount, id); err != nil {
			t.Fatalf("retry of payment %d: %v", id, err)
		}
	}
	if got := a.Channel(b.Address()).Sent; got != payments*amount {
		t.Fatalf("sent %d after retrying every id, want %d (each paid once)", got, payments*amount)
	}
	a.Close() // the loop has stopped: its maps may be read
	if len(a.core.paid) > limit || len(a.core.paidDurable) > limit {
		t.Fatalf("%d paid ids in memory (%d listed durable), limit %d", len(a.core.paid), len(a.core.paidDurable), limit)
	}
	if len(a.core.paid) == 0 {
		t.Fatal("no paid id kept in memory: retries all go to disk")
	}
}
