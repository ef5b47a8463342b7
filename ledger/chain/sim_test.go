package chain

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/channel"
)

// simChain is a simulated chain with the settlement contract deployed and three funded units:
// a and b (channel participants) and w (a neighbour acting as watchtower).
type simChain struct {
	sim        *simulated.Backend
	contract   *Adapter // deployer's view, for reads
	a, b, w    *Adapter
	ka, kb, kw *ecdsa.PrivateKey
	sa, sb     *channel.KeySigner
	gas        map[string]uint64
	gasMu      sync.Mutex
}

var oneEther = new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)

func newSimChain(t *testing.T) *simChain {
	t.Helper()
	ka, kb, kw := ledger.DeterministicKey(11), ledger.DeterministicKey(12), ledger.DeterministicKey(13)
	alloc := types.GenesisAlloc{}
	for _, k := range []*ecdsa.PrivateKey{ka, kb, kw} {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: new(big.Int).Mul(oneEther, big.NewInt(100))}
	}
	sim := simulated.NewBackend(alloc)
	t.Cleanup(func() { sim.Close() })
	ctx := context.Background()
	opts := Options{Mine: func() { sim.Commit() }}
	addr, r, err := Deploy(ctx, sim.Client(), kw, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := &simChain{sim: sim, ka: ka, kb: kb, kw: kw, sa: channel.NewKeySigner(ka), sb: channel.NewKeySigner(kb), gas: map[string]uint64{"deploy": r.GasUsed}}
	for _, p := range []struct {
		dst **Adapter
		key *ecdsa.PrivateKey
	}{{&c.a, ka}, {&c.b, kb}, {&c.w, kw}, {&c.contract, kw}} {
		ad, err := New(ctx, sim.Client(), p.key, addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		*p.dst = ad
	}
	return c
}

// must records the gas of a successful transaction under name.
func (c *simChain) must(t *testing.T, name string) func(*types.Receipt, error) *types.Receipt {
	return func(r *types.Receipt, err error) *types.Receipt {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c.gasMu.Lock()
		c.gas[name] = r.GasUsed
		c.gasMu.Unlock()
		t.Logf("gas %-20s %7d", name, r.GasUsed)
		return r
	}
}

// channels builds both ends of the off-chain state machine for an on-chain channel.
func (c *simChain) channels(d channel.Domain, depositA, depositB uint64) (*channel.Channel, *channel.Channel) {
	ca := channel.New(d, c.sa.Address(), c.sb.Address())
	cb := channel.New(d, c.sb.Address(), c.sa.Address())
	for _, ch := range []*channel.Channel{ca, cb} {
		_ = ch.SetDeposit(c.sa.Address(), depositA)
		_ = ch.SetDeposit(c.sb.Address(), depositB)
	}
	return ca, cb
}

func (c *simChain) settled(t *testing.T, r *types.Receipt) (amountA, amountB uint64, lowIsA bool) {
	t.Helper()
	for _, l := range r.Logs {
		if ev, err := c.contract.abi.UnpackSettledEvent(l); err == nil {
			return ev.AmountA.Uint64(), ev.AmountB.Uint64(), c.sa.Address().Cmp(c.sb.Address()) < 0
		}
	}
	t.Fatal("no Settled event")
	return 0, 0, false
}

// expectPayout checks a Settled event against the amounts due to participants a and b.
func (c *simChain) expectPayout(t *testing.T, r *types.Receipt, wantA, wantB uint64) {
	t.Helper()
	lo, hi, aIsLow := c.settled(t, r)
	gotA, gotB := lo, hi
	if !aIsLow {
		gotA, gotB = hi, lo
	}
	if gotA != wantA || gotB != wantB {
		t.Fatalf("settled a=%d b=%d, want a=%d b=%d", gotA, gotB, wantA, wantB)
	}
}

// pass moves chain time forward by d. The simulated pool drops mined transactions
// asynchronously, and AdjustTime refuses while it still lists any, so it retries briefly.
func (c *simChain) pass(t *testing.T, d time.Duration) {
	t.Helper()
	var err error
	for try := 0; try < 200; try++ {
		if err = c.sim.AdjustTime(d); err == nil {
			c.sim.Commit()
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal(err)
}

func pay(t *testing.T, from, to *channel.Channel, s channel.Signer, amount uint64) channel.Update {
	t.Helper()
	u, err := from.Direct(amount, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := to.Receive(u, 0); err != nil {
		t.Fatal(err)
	}
	return u
}
