package chain

import (
	"context"
	"errors"
	"math/big"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// partition sits between the adapters and the simulated chain and can cut them off, the way a
// unit loses its route to any chain node: every call fails like a refused connection.
type partition struct {
	Backend
	down atomic.Bool
}

var errRefused = errors.New("dial tcp 127.0.0.1:8545: connect: connection refused")

func (p *partition) HeaderByNumber(ctx context.Context, n *big.Int) (*types.Header, error) {
	if p.down.Load() {
		return nil, errRefused
	}
	return p.Backend.HeaderByNumber(ctx, n)
}

func (p *partition) FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	if p.down.Load() {
		return nil, errRefused
	}
	return p.Backend.FilterLogs(ctx, q)
}

func (p *partition) SendTransaction(ctx context.Context, tx *types.Transaction) error {
	if p.down.Load() {
		return errRefused
	}
	return p.Backend.SendTransaction(ctx, tx)
}

func (p *partition) PendingNonceAt(ctx context.Context, a common.Address) (uint64, error) {
	if p.down.Load() {
		return 0, errRefused
	}
	return p.Backend.PendingNonceAt(ctx, a)
}

func (p *partition) CallContract(ctx context.Context, m ethereum.CallMsg, n *big.Int) ([]byte, error) {
	if p.down.Load() {
		return nil, errRefused
	}
	return p.Backend.CallContract(ctx, m, n)
}

func (p *partition) EstimateGas(ctx context.Context, m ethereum.CallMsg) (uint64, error) {
	if p.down.Load() {
		return 0, errRefused
	}
	return p.Backend.EstimateGas(ctx, m)
}

// TestOfflineTransfersThenSettle makes 10,000 transfers with no chain reachable, queues the close
// meanwhile, and settles correctly once the chain is back: the partner's watcher answers the close
// with the latest proof automatically.
func TestOfflineTransfersThenSettle(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	part := &partition{Backend: c.sim.Client()}
	mine := Options{Mine: func() { c.sim.Commit() }}
	adA, _ := New(ctx, part, c.ka, c.a.Address(), mine)
	adB, _ := New(ctx, part, c.kb, c.a.Address(), mine)
	const depositA, depositB = 1_000_000, 50_000
	d, _, err := adA.Open(ctx, c.sb.Address(), native, 600, depositA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adB.Deposit(ctx, d, native, depositB); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	hub := transport.NewHub()
	start := func(key *channel.KeySigner, name string) (*ledger.Node, *store.Store) {
		st, err := store.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		ep := hub.Join(key.Address())
		n, err := ledger.NewNode(ledger.Config{Signer: key, Store: st, Transport: ep, Clock: clock.Real{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close(); ep.Close(); st.Close() })
		return n, st
	}
	nodeA, stA := start(c.sa, "a.db")
	nodeB, stB := start(c.sb, "b.db")
	for _, p := range []struct {
		n       *ledger.Node
		partner common.Address
		own     uint64
		other   uint64
	}{{nodeA, c.sb.Address(), depositA, depositB}, {nodeB, c.sa.Address(), depositB, depositA}} {
		if err := p.n.AddChannel(d, p.partner, p.own, p.other); err != nil {
			t.Fatal(err)
		}
	}
	queueA, err := NewQueue(adA, stA)
	if err != nil {
		t.Fatal(err)
	}
	queueB, err := NewQueue(adB, stB)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := part.HeaderByNumber(ctx, nil)
	watchB := NewWatcher(adB, queueB, NodeProofs(nodeB), head.Number.Uint64())

	part.down.Store(true) // no chain from here on
	var sentA, sentB atomic.Uint64
	var wg sync.WaitGroup
	const transfers, workers = 10_000, 32
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < transfers; i += workers {
				from, to, sent := nodeA, c.sb.Address(), &sentA
				if i%10 == 9 {
					from, to, sent = nodeB, c.sa.Address(), &sentB
				}
				amount := uint64(i%7 + 1)
				if err := from.Pay(ctx, to, amount, 0); err != nil {
					t.Error(err)
					return
				}
				sent.Add(amount)
			}
		}(w)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// A closes while offline: the close waits in the durable queue.
	if err := queueA.Enqueue(Action{Kind: ActClose, Domain: d, Proof: nodeA.Channel(c.sb.Address()).Partner}); err != nil {
		t.Fatal(err)
	}
	if _, err := queueA.Drain(ctx); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("drain without chain: %v, want unreachable", err)
	}
	keeperB := &Keeper{Watcher: watchB, Queue: queueB}
	if reachable, err := keeperB.Step(ctx); reachable || err != nil {
		t.Fatalf("keeper without chain: reachable %v, %v", reachable, err)
	}
	if queueA.Len() != 1 {
		t.Fatalf("queue holds %d actions, want the close", queueA.Len())
	}

	part.down.Store(false) // the chain is back
	if n, err := queueA.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("drain: %d, %v", n, err)
	}
	if reachable, err := keeperB.Step(ctx); !reachable || err != nil || watchB.Answered != 1 || queueB.Gas[ActUpdateProof] == 0 {
		t.Fatalf("keeper: reachable %v, answered %d, update gas %d, %v", reachable, watchB.Answered, queueB.Gas[ActUpdateProof], err)
	}
	c.pass(t, 601*time.Second)
	if _, err := queueA.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := queueB.Drain(ctx); err != nil { // its settle comes second and is refused: already settled
		t.Fatal(err)
	}
	wantA := depositA - sentA.Load() + sentB.Load()
	wantB := depositB + sentA.Load() - sentB.Load()
	r := settledLog(t, part, c)
	if sentA.Load()+sentB.Load() == 0 {
		t.Fatal("nothing was transferred")
	}
	c.expectPayout(t, r, wantA, wantB)
	t.Logf("10,000 offline transfers (a→b %d, b→a %d); settled a=%d b=%d; gas %v", sentA.Load(), sentB.Load(), wantA, wantB, queueA.Gas)
}

// settledLog finds the Settled event and wraps it in a receipt for expectPayout.
func settledLog(t *testing.T, b Backend, c *simChain) *types.Receipt {
	t.Helper()
	logs, err := b.FilterLogs(context.Background(), ethereum.FilterQuery{Addresses: []common.Address{c.a.Address()},
		Topics: [][]common.Hash{{crypto.Keccak256Hash([]byte("Settled(bytes32,uint64,uint256,uint256)"))}}})
	if err != nil || len(logs) != 1 {
		t.Fatalf("settled events: %d, %v", len(logs), err)
	}
	return &types.Receipt{Logs: []*types.Log{&logs[0]}}
}
