package firmware

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/chain"
	"github.com/fractals-energy/fractals/ledger/channel"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// ledgerPair is two units' ledgers that are each other's neighbour, on one chain.
type ledgerPair struct {
	a, b     *Ledger
	backend  chain.Backend
	contract common.Address
	ka, kb   *ecdsa.PrivateKey
}

// startPair starts both ledgers on backend (contract deployed, both accounts funded) with
// deposit each and a chain poll of one hour, so the test drives the chain rounds itself.
func startPair(t *testing.T, backend chain.Backend, mine func(), contract common.Address, ka, kb *ecdsa.PrivateKey, deposit uint64) *ledgerPair {
	t.Helper()
	dir := t.TempDir()
	addrA, addrB := freeAddr(t), freeAddr(t)
	start := func(name string, key *ecdsa.PrivateKey, listen string, peer *ecdsa.PrivateKey, peerAt string) *Ledger {
		cfg := config.Channels{Listen: listen, Store: filepath.Join(dir, name+".db"), Deposit: deposit, SettleTimeout: 10 * time.Minute,
			Neighbours: []config.Neighbour{{Address: crypto.PubkeyToAddress(peer.PublicKey).Hex(), Endpoint: peerAt}}}
		l, err := StartLedger(context.Background(), config.Chain{Backend: "simulated", Poll: time.Hour, Confirmations: 1}, cfg,
			LedgerOptions{Key: key, Backend: backend, Mine: mine, Contract: contract})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Shutdown() })
		return l
	}
	p := &ledgerPair{backend: backend, contract: contract, ka: ka, kb: kb}
	p.a = start("a", ka, addrA, kb, addrB)
	p.b = start("b", kb, addrB, ka, addrA)
	return p
}

// syncUntil runs chain rounds on both ledgers until ok holds.
func (p *ledgerPair) syncUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		p.a.Sync(ctx)
		p.b.Sync(ctx)
		if ok() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not reached; a %+v (%s), b %+v (%s)", what, p.a.Channels(ctx), p.a.lastErr, p.b.Channels(ctx), p.b.lastErr)
}

// runLedgerScenario is the operator's day on a chain: the daemons open and fund their channel by
// themselves, pay 1,000 transfers (a retried payment id pays once), and settle cooperatively;
// the chain then owes each what the latest proofs say.
func runLedgerScenario(t *testing.T, p *ledgerPair, deposit uint64) {
	ctx := context.Background()
	a, b := p.a, p.b
	p.syncUntil(t, "channel opened and funded by both", func() bool {
		ca, cb := a.Channels(ctx), b.Channels(ctx)
		return len(ca) == 1 && len(cb) == 1 && ca[0].OwnDeposit == deposit && ca[0].PartnerDeposit == deposit &&
			ca[0].OwnBalance == deposit && ca[0].PartnerBalance == deposit &&
			cb[0].OwnBalance == deposit && cb[0].PartnerBalance == deposit && ca[0].Synced && cb[0].Synced
	})
	for i := uint64(1); i <= 1000; i++ {
		if err := a.Pay(ctx, b.Address(), 1, i); err != nil {
			t.Fatalf("payment %d: %v", i, err)
		}
	}
	if err := a.Pay(ctx, b.Address(), 1, 1000); err != nil { // a retry of the last id
		t.Fatal(err)
	}
	for i := uint64(1); i <= 10; i++ {
		if err := b.Pay(ctx, a.Address(), 5, i); err != nil {
			t.Fatal(err)
		}
	}
	wantA, wantB := deposit-1000+50, deposit+1000-50
	if own, theirs, ok := a.Balance(b.Address()); !ok || own != wantA || theirs != wantB {
		t.Fatalf("a's balances %d/%d (found %v), want %d/%d", own, theirs, ok, wantA, wantB)
	}
	if err := a.Settle(ctx, b.Address()); err != nil {
		t.Fatal(err)
	}
	if a.Pending() != 1 {
		t.Fatalf("%d actions pending after the settle was agreed, want 1", a.Pending())
	}
	p.syncUntil(t, "cooperative settle on chain", func() bool { return a.Pending() == 0 && len(a.queue.Failed) == 0 })
	if cs := a.Channels(ctx); len(cs) != 0 {
		t.Fatalf("after settle (and no new channel opened by itself): %+v", cs)
	}
	// The keeper collects a's payout in the same round; b's is owed until its next round.
	owedB, err := a.adapter.Owed(ctx, common.Address{}, b.Address())
	if err != nil {
		t.Fatal(err)
	}
	if owedB.Cmp(new(big.Int).SetUint64(wantB)) != 0 {
		t.Fatalf("the chain owes b %s, want %d", owedB, wantB)
	}
	t.Logf("settled on chain: a %d, b %d; gas: %v", wantA, wantB, a.queue.Gas)
}

// TestLedgerOnSimulatedChain runs the scenario on the simulated backend (the same one as `make
// interop` runs against geth --dev).
func TestLedgerOnSimulatedChain(t *testing.T) {
	ka, kb := ledger.DeterministicKey(201), ledger.DeterministicKey(202)
	ether := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	alloc := types.GenesisAlloc{}
	for _, k := range []*ecdsa.PrivateKey{ka, kb} {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: new(big.Int).Mul(ether, big.NewInt(10))}
	}
	sim := simulated.NewBackend(alloc)
	t.Cleanup(func() { sim.Close() })
	mine := func() { sim.Commit() }
	contract, _, err := chain.Deploy(context.Background(), sim.Client(), ka, chain.Options{Mine: mine})
	if err != nil {
		t.Fatal(err)
	}
	p := startPair(t, sim.Client(), mine, contract, ka, kb, 5000)
	runLedgerScenario(t, p, 5000)
}

// TestLedgerPaysWithoutChain: with the chain gone, channels keep paying and a settle agreed
// meanwhile waits in the durable queue.
func TestLedgerPaysWithoutChain(t *testing.T) {
	ka, kb := ledger.DeterministicKey(203), ledger.DeterministicKey(204)
	ether := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	alloc := types.GenesisAlloc{crypto.PubkeyToAddress(ka.PublicKey): {Balance: ether}, crypto.PubkeyToAddress(kb.PublicKey): {Balance: ether}}
	sim := simulated.NewBackend(alloc)
	mine := func() { sim.Commit() }
	contract, _, err := chain.Deploy(context.Background(), sim.Client(), ka, chain.Options{Mine: mine})
	if err != nil {
		t.Fatal(err)
	}
	p := startPair(t, sim.Client(), mine, contract, ka, kb, 100)
	ctx := context.Background()
	p.syncUntil(t, "funded", func() bool {
		c := p.b.Channels(ctx)
		d := p.a.Channels(ctx)
		return len(c) == 1 && len(d) == 1 && c[0].OwnBalance == 100 && c[0].PartnerBalance == 100 && d[0].OwnBalance == 100 && d[0].PartnerBalance == 100 && c[0].Synced
	})
	sim.Close() // the chain is gone
	for i := uint64(1); i <= 50; i++ {
		if err := p.a.Pay(ctx, p.b.Address(), 1, i); err != nil {
			t.Fatalf("payment %d without a chain: %v", i, err)
		}
	}
	if err := p.a.Settle(ctx, p.b.Address()); err != nil {
		t.Fatal(err)
	}
	p.a.Sync(ctx)
	if n := p.a.Pending(); n != 1 {
		t.Fatalf("%d actions queued without a chain, want the settle", n)
	}
	if cs := p.a.Channels(ctx); len(cs) != 1 || cs[0].State != "unknown" || cs[0].OwnBalance != 50 {
		t.Fatalf("channels without a chain: %+v", cs)
	}

	// A partner's frame the node refuses reaches the daemon's count (and log).
	_, before := p.a.Refused()
	if err := p.b.tcp.Send(p.a.Address(), []byte{byte(channel.KindUpdate), 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, frames := p.a.Refused(); frames == before+1 {
			break
		}
		if time.Now().After(deadline) {
			_, frames := p.a.Refused()
			t.Fatalf("refused frames %d after a malformed update, want %d", frames, before+1)
		}
	}
}
