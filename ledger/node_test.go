package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// hubNode is a node on the in-process hub with a real bbolt file.
type hubNode struct {
	*Node
	path string
	st   *store.Store
	ep   *transport.Endpoint
	seed uint64
}

func startHubNode(t *testing.T, hub *transport.Hub, seed uint64, path string) *hubNode {
	t.Helper()
	key := DeterministicKey(seed)
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ep := hub.Join(crypto.PubkeyToAddress(key.PublicKey))
	n, err := NewNode(Config{Signer: channel.NewKeySigner(key), Store: st, Transport: ep, Clock: clock.Real{}, Resend: 40 * time.Millisecond,
		Tokens: []channel.Address{{}, testToken}})
	if err != nil {
		t.Fatal(err)
	}
	h := &hubNode{Node: n, path: path, st: st, ep: ep, seed: seed}
	t.Cleanup(h.stop)
	return h
}

func (h *hubNode) stop() {
	h.Node.Close()
	h.ep.Close()
	h.st.Close()
}

// testToken is a token the hub nodes take channels in, beside native coin.
var testToken = channel.Address{0x70}

func link(t *testing.T, a, b *Node, deposit uint64) channel.Domain {
	t.Helper()
	d := channel.Domain{ChainID: 1337, Contract: channel.Address{0xbe}, ChannelID: crypto.Keccak256Hash(a.Address().Bytes(), b.Address().Bytes()), Epoch: 1}
	if err := a.AddChannel(d, b.Address(), deposit, deposit); err != nil {
		t.Fatal(err)
	}
	if err := b.AddChannel(d, a.Address(), deposit, deposit); err != nil {
		t.Fatal(err)
	}
	return d
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPayOverTCPConvergesAndIsDurable(t *testing.T) {
	dir := t.TempDir()
	bn, err := newBenchNet(2, dir, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	a, b := bn.nodes[0], bn.nodes[1]
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := a.Pay(ctxT(t), b.Address(), 3, 0); err != nil {
					t.Error(err)
					return
				}
				if err := b.Pay(ctxT(t), a.Address(), 1, 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	ia, ib := a.Channel(b.Address()), b.Channel(a.Address())
	if ia.Sent != 1200 || ib.Received != 1200 || ib.Sent != 400 || ia.Received != 400 {
		t.Fatalf("a sent %d (b saw %d), b sent %d (a saw %d)", ia.Sent, ib.Received, ib.Sent, ia.Received)
	}
	if ia.Own != ib.Partner || ib.Own != ia.Partner {
		t.Fatal("the two ends hold different latest proofs")
	}
	bn.close()
	// What was acknowledged is on disk on the receiving side.
	st, err := store.Open(filepath.Join(dir, "node1.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	chans, err := st.Channels()
	if err != nil || len(chans) != 1 {
		t.Fatalf("stored channels %d, %v", len(chans), err)
	}
	if got := chans[0].Partner.Proof.Transferred; got != 1200 {
		t.Fatalf("b's disk holds a's transferred %d, want 1200", got)
	}
}

func TestPaymentIDIsNeverPaidTwice(t *testing.T) {
	hub := transport.NewHub()
	dir := t.TempDir()
	a := startHubNode(t, hub, 1, filepath.Join(dir, "a.db"))
	b := startHubNode(t, hub, 2, filepath.Join(dir, "b.db"))
	link(t, a.Node, b.Node, 1000)
	for i := 0; i < 3; i++ {
		if err := a.Pay(ctxT(t), b.Address(), 10, 77); err != nil {
			t.Fatal(err)
		}
	}
	// Restart a: the payment record survives and a retry still pays nothing.
	a.stop()
	a = startHubNode(t, hub, 1, a.path)
	if err := a.Pay(ctxT(t), b.Address(), 10, 77); err != nil {
		t.Fatal(err)
	}
	if got := b.Channel(a.Address()).Received; got != 10 {
		t.Fatalf("b received %d, want 10 (paid once)", got)
	}
}

func TestRestartResendsUnacknowledgedAfterLinkCut(t *testing.T) {
	hub := transport.NewHub()
	dir := t.TempDir()
	a := startHubNode(t, hub, 1, filepath.Join(dir, "a.db"))
	b := startHubNode(t, hub, 2, filepath.Join(dir, "b.db"))
	link(t, a.Node, b.Node, 1000)
	hub.SetLink(a.Address(), b.Address(), false)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	if err := a.Pay(ctx, b.Address(), 25, 5); err == nil {
		t.Fatal("payment completed over a cut link")
	}
	cancel()
	a.stop() // the signed, unacknowledged proof is on a's disk
	hub.SetLink(a.Address(), b.Address(), true)
	a = startHubNode(t, hub, 1, a.path)
	if err := a.Pay(ctxT(t), b.Address(), 25, 5); err != nil {
		t.Fatal(err)
	}
	if got := b.Channel(a.Address()).Received; got != 25 {
		t.Fatalf("b received %d, want 25", got)
	}
}

func TestMediatedTransferThreeHops(t *testing.T) {
	hub := transport.NewHub()
	dir := t.TempDir()
	var nodes []*hubNode
	for i := uint64(1); i <= 4; i++ {
		nodes = append(nodes, startHubNode(t, hub, i, filepath.Join(dir, string(rune('a'+i))+".db")))
	}
	for i := 0; i < 3; i++ {
		link(t, nodes[i].Node, nodes[i+1].Node, 1000)
	}
	route := []channel.Address{nodes[1].Address(), nodes[2].Address(), nodes[3].Address()}
	for i := 0; i < 5; i++ {
		if err := nodes[0].PayRoute(ctxT(t), route, 7, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	// The last unlock on each hop may still be in flight; wait until every lock has cleared.
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 3; i++ {
		for {
			in := nodes[i+1].Channel(nodes[i].Address())
			if in.Received == 35 && in.PartnerLocked == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("hop %d: received %d, locked %d; want 35 and 0", i, in.Received, in.PartnerLocked)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if bal := nodes[1].Channel(nodes[0].Address()).OwnBalance + nodes[1].Channel(nodes[2].Address()).OwnBalance; bal != 2000 {
		t.Fatalf("mediator's total balance %d, want 2000 (it forwards what it receives)", bal)
	}
	// Every hop stored the five secrets it learned, and a restarted mediator reads them back.
	mediator := nodes[1]
	mediator.stop()
	st, err := store.Open(mediator.path)
	if err != nil {
		t.Fatal(err)
	}
	kvs, err := st.MetaPrefix(secretPrefix)
	st.Close()
	if err != nil || len(kvs) != 5 {
		t.Fatalf("mediator stored %d secrets, %v; want 5", len(kvs), err)
	}
	restarted := startHubNode(t, hub, mediator.seed, mediator.path)
	if got := restarted.Channel(nodes[0].Address()).Received; got != 35 {
		t.Fatalf("restarted mediator sees %d received, want 35", got)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRestoredOldStoreRecoversInsteadOfReusingNonces: a unit whose disk is restored from an old
// backup learns from its partner that it lost proofs, adopts its own latest signed proof back, and
// goes on from there; nothing is paid twice and no nonce is signed twice.
func TestRestoredOldStoreRecoversInsteadOfReusingNonces(t *testing.T) {
	hub := transport.NewHub()
	dir := t.TempDir()
	a := startHubNode(t, hub, 1, filepath.Join(dir, "a.db"))
	b := startHubNode(t, hub, 2, filepath.Join(dir, "b.db"))
	link(t, a.Node, b.Node, 1000)
	for i := uint64(1); i <= 3; i++ {
		if err := a.Pay(ctxT(t), b.Address(), 10, i); err != nil {
			t.Fatal(err)
		}
	}
	a.stop()
	backup := filepath.Join(dir, "a.backup")
	copyFile(t, a.path, backup)
	a = startHubNode(t, hub, 1, a.path)
	for i := uint64(4); i <= 6; i++ {
		if err := a.Pay(ctxT(t), b.Address(), 10, i); err != nil {
			t.Fatal(err)
		}
	}
	a.stop()
	copyFile(t, backup, a.path) // the disk comes back from the old backup: nonces 4..6 forgotten
	a = startHubNode(t, hub, 1, a.path)
	if err := a.Pay(ctxT(t), b.Address(), 10, 7); err != nil {
		t.Fatal(err)
	}
	if got := a.Stats().Recovered; got != 1 {
		t.Fatalf("recoveries %d, want 1", got)
	}
	ia, ib := a.Channel(b.Address()), b.Channel(a.Address())
	if ib.Received != 70 || ia.Sent != 70 || ia.OwnNonce != 7 || ib.Partner != ia.Own {
		t.Fatalf("after recovery: a sent %d (nonce %d), b received %d; want 70 at nonce 7", ia.Sent, ia.OwnNonce, ib.Received)
	}
	if b.Stats().Refused != 0 {
		t.Fatalf("b refused %d messages: a signed something conflicting", b.Stats().Refused)
	}
}

// TestMediatedPaymentSurvivesInitiatorRestart: the initiator restarts while its lock is on the
// way; it still answers the target's secret request from its stored route, the payment
// completes once, and retrying its id pays nothing more.
func TestMediatedPaymentSurvivesInitiatorRestart(t *testing.T) {
	hub := transport.NewHub()
	dir := t.TempDir()
	var nodes []*hubNode
	for i := uint64(1); i <= 3; i++ {
		nodes = append(nodes, startHubNode(t, hub, i, filepath.Join(dir, fmt.Sprintf("n%d.db", i))))
	}
	link(t, nodes[0].Node, nodes[1].Node, 1000)
	link(t, nodes[1].Node, nodes[2].Node, 1000)
	a, target := nodes[0], nodes[2]
	route := []channel.Address{nodes[1].Address(), target.Address()}
	hub.SetLink(a.Address(), target.Address(), false) // the target's request cannot reach a yet
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	if err := a.PayRoute(ctx, route, 9, 42); err == nil {
		t.Fatal("payment completed although the target could not reach the initiator")
	}
	cancel()
	a.stop()
	hub.SetLink(a.Address(), target.Address(), true)
	a = startHubNode(t, hub, 1, a.path)
	for i := 0; i < 2; i++ { // the first call waits for the stored route, the second finds it paid
		if err := a.PayRoute(ctxT(t), route, 9, 42); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for target.Channel(nodes[1].Address()).Received != 9 {
		if time.Now().After(deadline) {
			t.Fatalf("target received %d, want 9", target.Channel(nodes[1].Address()).Received)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := a.Channel(nodes[1].Address()).Sent; got != 9 {
		t.Fatalf("initiator sent %d, want 9 (paid once)", got)
	}
}
