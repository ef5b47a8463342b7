package firmware

import (
	"context"
	"crypto/ecdsa"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
	"github.com/fractals-energy/fractals/mesh"
)

// TestLedgerOverMesh: two units' ledger nodes with durable bbolt stores pay each other over two
// real devp2p mesh nodes on loopback (RLPx links, the fractals sub-protocol, CodeLedger), and the
// test prints the throughput and latency of 1,000 direct transfers over that path (the bench over
// two mesh nodes).
func TestLedgerOverMesh(t *testing.T) {
	keys := []*ecdsaKey{{ledger.DeterministicKey(401)}, {ledger.DeterministicKey(402)}}
	// The mesh's default budgets (100 messages/s per author, 500 per peer) treat a payment stream
	// as a flood and cut the peer; a unit that pays at bench rates raises them.
	opts := mesh.DefaultOptions("ledger-test")
	opts.AuthorRateMsgs, opts.AuthorBurstMsgs, opts.RateMsgs, opts.BurstMsgs = 1e5, 1e5, 1e5, 1e5
	opts.SubBuffer = 1 << 14
	a, err := mesh.NewNode(mesh.NodeConfig{Key: keys[0].k, Listen: "127.0.0.1:0", Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := mesh.NewNode(mesh.NodeConfig{Key: keys[1].k, Listen: "127.0.0.1:0", Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.AddPeer(b.Enode())
	for deadline := time.Now().Add(10 * time.Second); a.PeerCount() == 0 || b.PeerCount() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the mesh nodes never connected")
		}
		time.Sleep(10 * time.Millisecond)
	}
	dir := t.TempDir()
	var nodes []*ledger.Node
	for i, m := range []mesh.Mesh{a, b} {
		st, err := store.Open(filepath.Join(dir, []string{"a.db", "b.db"}[i]))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		tr := NewMeshTransport(m)
		defer tr.Close()
		n, err := ledger.NewNode(ledger.Config{Signer: channel.NewKeySigner(keys[i].k), Store: st, Transport: tr, Clock: clock.Real{}})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
	}
	pa, pb := nodes[0], nodes[1]
	d := channel.Domain{ChainID: 1337, Contract: channel.Address{0xbe}, ChannelID: crypto.Keccak256Hash(pa.Address().Bytes(), pb.Address().Bytes()), Epoch: 1}
	const transfers, inFlight = 5000, 64
	if err := pa.AddChannel(d, pb.Address(), transfers, transfers); err != nil {
		t.Fatal(err)
	}
	if err := pb.AddChannel(d, pa.Address(), transfers, transfers); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lat := make([]time.Duration, transfers)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for w := 0; w < inFlight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= transfers {
					return
				}
				t0 := time.Now()
				if err := pa.Pay(ctx, pb.Address(), 1, uint64(i+1)); err != nil {
					failed.Store(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); pb.Channel(pa.Address()).Received != transfers && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := pb.Channel(pa.Address()).Received; got != transfers {
		t.Fatalf("b holds %d received, want %d", got, transfers)
	}
	if err := pb.Pay(ctx, pa.Address(), 7, 1); err != nil {
		t.Fatal(err)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("over two devp2p mesh nodes: %d durable transfers in %.3f s: %.0f transfers/s, p50 %.3f ms, p99 %.3f ms (%d in flight)",
		transfers, elapsed.Seconds(), transfers/elapsed.Seconds(), float64(lat[transfers/2].Microseconds())/1000, float64(lat[transfers*99/100].Microseconds())/1000, inFlight)
}

type ecdsaKey struct{ k *ecdsa.PrivateKey }
