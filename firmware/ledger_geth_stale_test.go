//go:build interop

package firmware

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/chain"
)

// TestInteropStaleCloseOnGethDev: against a real geth --dev, a closes with none of its payments
// on chain and b's daemon answers with a's latest proof; then the same with b shut down, answered
// by the watchtower w from b's delegation. geth's blocks keep wall-clock time, so the 10-minute
// settle timeout is not waited for here (the simulated-backend tests settle and check payouts).
func TestInteropStaleCloseOnGethDev(t *testing.T) {
	for _, offline := range []bool{false, true} {
		client, fund := startGethDev(t)
		seed := uint64(511)
		if offline {
			seed = 521
		}
		ka, kb, kw := ledger.DeterministicKey(seed), ledger.DeterministicKey(seed+1), ledger.DeterministicKey(seed+2)
		for _, k := range []*ecdsa.PrivateKey{ka, kb, kw} {
			fund(crypto.PubkeyToAddress(k.PublicKey))
		}
		contract, _, err := chain.Deploy(context.Background(), client, ka, chain.Options{})
		if err != nil {
			t.Fatal(err)
		}
		staleCloseAnswered(t, client, nil, contract, ka, kb, kw, offline)
	}
}

// startGethDev starts geth --dev on a loopback port and returns its client and a funder.
func startGethDev(t *testing.T) (*ethclient.Client, func(common.Address)) {
	t.Helper()
	geth, err := exec.LookPath("geth")
	if err != nil {
		if p := filepath.Join(os.Getenv("HOME"), "go", "bin", "geth"); fileExists(p) {
			geth = p
		} else {
			t.Skip("needs geth: go install github.com/ethereum/go-ethereum/cmd/geth@v1.16.9")
		}
	}
	port := freeAddr(t)
	_, p, _ := net.SplitHostPort(port)
	cmd := exec.Command(geth, "--dev", "--datadir", t.TempDir(), "--http", "--http.addr", "127.0.0.1", "--http.port", p,
		"--http.api", "eth,net,web3", "--nodiscover", "--ipcdisable", "--port", "0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ctx := context.Background()
	var rc *rpc.Client
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if rc, err = rpc.DialContext(ctx, "http://"+port); err == nil {
			var n hexutil.Uint64
			if err = rc.CallContext(ctx, &n, "eth_blockNumber"); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("geth --dev did not answer at %s: %v", port, err)
		}
	}
	client := ethclient.NewClient(rc)
	var accounts []common.Address
	if err := rc.CallContext(ctx, &accounts, "eth_accounts"); err != nil || len(accounts) == 0 {
		t.Fatalf("dev account: %v %v", accounts, err)
	}
	ether := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	fund := func(to common.Address) {
		var h common.Hash
		if err := rc.CallContext(ctx, &h, "eth_sendTransaction", map[string]any{"from": accounts[0], "to": to, "value": (*hexutil.Big)(ether)}); err != nil {
			t.Fatalf("funding %s: %v", to, err)
		}
		for {
			if r, err := client.TransactionReceipt(ctx, h); err == nil && r != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return client, fund
}
