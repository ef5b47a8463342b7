package chain

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/channel"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestOverJSONRPC drives the contract through go-ethereum's ethclient over HTTP JSON-RPC on
// loopback, the way a unit talks to geth --dev or a Spectrum node.
func TestOverJSONRPC(t *testing.T) {
	ka, kb := ledger.DeterministicKey(31), ledger.DeterministicKey(32)
	alloc := types.GenesisAlloc{}
	for _, k := range []*ecdsa.PrivateKey{ka, kb} {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: new(big.Int).Mul(oneEther, big.NewInt(10))}
	}
	port := freePort(t)
	sim := simulated.NewBackend(alloc, func(nc *node.Config, _ *ethconfig.Config) {
		nc.HTTPHost = "127.0.0.1"
		nc.HTTPPort = port
		nc.HTTPModules = []string{"eth", "net", "web3"}
	})
	defer sim.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := ethclient.DialContext(ctx, fmt.Sprintf("http://127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	opts := Options{Mine: func() { sim.Commit() }}
	addr, _, err := Deploy(ctx, client, ka, opts)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(ctx, client, ka, addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(ctx, client, kb, addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := a.Open(ctx, b.Self(), native, 600, 500)
	if err != nil {
		t.Fatal(err)
	}
	sa := channel.NewKeySigner(ka)
	ca := channel.New(d, a.Self(), b.Self())
	_ = ca.SetDeposit(a.Self(), 500)
	u, err := ca.Direct(123, sa)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Close(ctx, d, u.Proof); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if err := sim.AdjustTime(601 * time.Second); err == nil {
			break
		} else if i > 200 {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	sim.Commit()
	r, err := a.Settle(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range r.Logs {
		if ev, err := a.abi.UnpackSettledEvent(l); err == nil {
			gotA, gotB := ev.AmountA.Uint64(), ev.AmountB.Uint64()
			if b.Self().Cmp(a.Self()) < 0 {
				gotA, gotB = gotB, gotA
			}
			if gotA != 377 || gotB != 123 {
				t.Fatalf("settled a=%d b=%d over JSON-RPC, want 377 and 123", gotA, gotB)
			}
			return
		}
	}
	t.Fatal("no Settled event")
}
