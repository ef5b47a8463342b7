package ledger

import (
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// DeterministicKey derives a secp256k1 key from a seed (tests, benchmarks, simulations; never
// for real money).
func DeterministicKey(seed uint64) *ecdsa.PrivateKey {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	for i := uint64(0); ; i++ {
		h := crypto.Keccak256(append([]byte("FRACTALS test key"), append(b[:], byte(i))...))
		if k, err := crypto.ToECDSA(h); err == nil {
			return k
		}
	}
}

// BenchConfig sets up RunBench.
type BenchConfig struct {
	Transfers int
	// InFlight is how many payments are outstanding at once (pipelining). Default 64: the
	// payments that arrive while a cut is written share the next proof and commit.
	InFlight int
	// Hops: 1 is a direct transfer between two nodes; 3 is a mediated transfer A→B→C→D.
	Hops int
	// Dir holds the bbolt files.
	Dir string
}

// BenchResult is what `fractals ledger bench --json` prints.
type BenchResult struct {
	Transfers int     `json:"transfers"`
	Hops      int     `json:"hops"`
	Seconds   float64 `json:"seconds"`
	TPS       float64 `json:"tps"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	Durable   bool    `json:"durable"`
	Commits   int     `json:"commits"`
	// CommitMeanMs and CommitMaxMs are the group commits' cost (a log append and one fdatasync
	// each; bbolt checkpoints run beside them).
	CommitMeanMs float64 `json:"commit_mean_ms"`
	CommitMaxMs  float64 `json:"commit_max_ms"`
	// SignVerifyUs is the cost of one signature plus one verification alone, in microseconds:
	// the per-transfer floor of the whole path.
	SignVerifyUs float64 `json:"sign_verify_us"`
	// PaymentsPerProof is how many payments one signed direct proof carried on average (the
	// payer coalesces the payments that arrive while its previous cut is being written).
	PaymentsPerProof float64 `json:"payments_per_proof,omitempty"`
	// ReusedDir says the stores were left in Dir by an earlier run, so the channels continue from
	// their stored state (bigger files, nonces far from zero); Note says so in words.
	ReusedDir bool   `json:"reused_dir"`
	Note      string `json:"note,omitempty"`
}

// benchNet is a line of nodes over loopback TCP with durable stores, each channel funded.
type benchNet struct {
	nodes  []*Node
	stores []*store.Store
	tcps   []*transport.TCP
}

// newBenchNet builds the line; configure (tests) may change each node's Config before it starts.
func newBenchNet(n int, dir string, deposit uint64, configure ...func(i int, c *Config)) (*benchNet, error) {
	bn := &benchNet{}
	keys := make([]*ecdsa.PrivateKey, n)
	for i := range keys {
		keys[i] = DeterministicKey(uint64(i + 1))
		st, err := store.Open(filepath.Join(dir, fmt.Sprintf("node%d.db", i)))
		if err != nil {
			bn.close()
			return nil, err
		}
		bn.stores = append(bn.stores, st)
		tcp, err := transport.ListenTCP(channel.NewKeySigner(keys[i]), "127.0.0.1:0")
		if err != nil {
			bn.close()
			return nil, err
		}
		bn.tcps = append(bn.tcps, tcp)
	}
	for i := range keys {
		cfg := Config{Signer: channel.NewKeySigner(keys[i]), Store: bn.stores[i], Transport: bn.tcps[i], Clock: clock.Real{}}
		for _, f := range configure {
			f(i, &cfg)
		}
		node, err := NewNode(cfg)
		if err != nil {
			bn.close()
			return nil, err
		}
		bn.nodes = append(bn.nodes, node)
	}
	for i := 0; i+1 < n; i++ {
		a, b := bn.nodes[i], bn.nodes[i+1]
		bn.tcps[i].AddPeer(b.Address(), bn.tcps[i+1].Addr())
		bn.tcps[i+1].AddPeer(a.Address(), bn.tcps[i].Addr())
		d := channel.Domain{ChainID: 1337, Contract: channel.Address{0xbe}, ChannelID: crypto.Keccak256Hash(a.Address().Bytes(), b.Address().Bytes()), Epoch: 1}
		if err := a.AddChannel(d, b.Address(), deposit, deposit); err != nil {
			bn.close()
			return nil, err
		}
		if err := b.AddChannel(d, a.Address(), deposit, deposit); err != nil {
			bn.close()
			return nil, err
		}
	}
	// The initiator must also reach the target directly for the secret request and reveal.
	if n > 2 {
		bn.tcps[0].AddPeer(bn.nodes[n-1].Address(), bn.tcps[n-1].Addr())
		bn.tcps[n-1].AddPeer(bn.nodes[0].Address(), bn.tcps[0].Addr())
	}
	return bn, nil
}

func (bn *benchNet) close() {
	for _, n := range bn.nodes {
		n.Close()
	}
	for _, t := range bn.tcps {
		t.Close()
	}
	for _, s := range bn.stores {
		s.Close()
	}
}

// RunBench runs cfg.Transfers payments of 1 unit over loopback TCP between durable nodes and
// measures throughput and per-payment latency (from the call to the partner's durable ack).
func RunBench(ctx context.Context, cfg BenchConfig) (BenchResult, error) {
	if cfg.Transfers <= 0 {
		return BenchResult{}, fmt.Errorf("bench: transfers %d, want > 0", cfg.Transfers)
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = 64
	}
	if cfg.Hops != 1 && cfg.Hops != 3 {
		return BenchResult{}, fmt.Errorf("bench: hops %d, want 1 or 3", cfg.Hops)
	}
	earlier, _ := filepath.Glob(filepath.Join(cfg.Dir, "node*.db"))
	bn, err := newBenchNet(cfg.Hops+1, cfg.Dir, uint64(cfg.Transfers)*10)
	if err != nil {
		return BenchResult{}, err
	}
	defer bn.close()
	first := bn.nodes[0]
	var route []channel.Address
	for _, n := range bn.nodes[1:] {
		route = append(route, n.Address())
	}
	pay := func(ctx context.Context) error {
		if cfg.Hops == 1 {
			return first.Pay(ctx, route[0], 1, 0)
		}
		return first.PayRoute(ctx, route, 1, 0)
	}
	// A reused dir holds what earlier runs paid: count this run's transfers from there.
	target, payer := bn.nodes[len(bn.nodes)-1], bn.nodes[len(bn.nodes)-2].Address()
	base := target.Channel(payer).Received
	latencies := make([]time.Duration, cfg.Transfers)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < cfg.InFlight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.Transfers {
					return
				}
				t0 := time.Now()
				if err := pay(ctx); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("bench: payment %d: %w", i, err) })
					return
				}
				latencies[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return BenchResult{}, firstErr
	}
	// A mediated payment completes for its initiator before the last unlocks along the route
	// land; give them a moment, then check the target holds every payment.
	want := base + uint64(cfg.Transfers)
	for deadline := time.Now().Add(5 * time.Second); target.Channel(payer).Received != want && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := target.Channel(payer).Received; got != want {
		return BenchResult{}, fmt.Errorf("bench: target holds %d received, want %d (%d before this run)", got, want, base)
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	commits, signed, coalesced := 0, 0, 0
	var commitTime, commitMax time.Duration
	for _, n := range bn.nodes {
		st := n.Stats()
		commits += st.Commits
		signed += st.Signed
		coalesced += st.Coalesced
		commitTime += st.CommitTime
		commitMax = max(commitMax, st.CommitMax)
	}
	durable := true
	for _, st := range bn.stores {
		durable = durable && st.Durable()
	}
	commitMean := time.Duration(0)
	if commits > 0 {
		commitMean = commitTime / time.Duration(commits)
	}
	return BenchResult{
		Transfers: cfg.Transfers, Hops: cfg.Hops, Seconds: elapsed.Seconds(),
		TPS:   float64(cfg.Transfers) / elapsed.Seconds(),
		P50ms: ms(latencies[len(latencies)/2]), P99ms: ms(latencies[len(latencies)*99/100]),
		Durable: durable, Commits: commits, CommitMeanMs: ms(commitMean), CommitMaxMs: ms(commitMax), SignVerifyUs: SignVerifyCost(2000).Seconds() * 1e6,
		ReusedDir: len(earlier) > 0, Note: reuseNote(cfg.Dir, earlier), PaymentsPerProof: perProof(coalesced, signed),
	}, nil
}

func perProof(payments, proofs int) float64 {
	if proofs == 0 {
		return 0
	}
	return float64(payments) / float64(proofs)
}

// SignVerifyCost measures one signature plus one recovery of a balance proof, averaged over n.
func SignVerifyCost(n int) time.Duration {
	s := channel.NewKeySigner(DeterministicKey(99))
	p := channel.BalanceProof{Nonce: 1, Transferred: 1, Locksroot: channel.Locksroot(nil)}
	start := time.Now()
	for i := 0; i < n; i++ {
		p.Nonce = uint64(i + 1)
		sig, err := s.Sign(p.Digest())
		if err != nil {
			return 0
		}
		if _, err := channel.Recover(p.Digest(), sig); err != nil {
			return 0
		}
	}
	return time.Since(start) / time.Duration(n)
}

// reuseNote says in words that a bench ran on stores an earlier run left behind.
func reuseNote(dir string, earlier []string) string {
	if len(earlier) == 0 {
		return ""
	}
	return fmt.Sprintf("reused %d store(s) an earlier run left in %s: the channels continued from their stored state, not from fresh files", len(earlier), dir)
}
