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

// TestInteropLedgerOnGethDev runs the ledger scenario of TestLedgerOnSimulatedChain against a
// real geth --dev over JSON-RPC: the daemons open and fund their channel, 1,000 transfers, a
// cooperative settle, payouts as the latest proofs say.
func TestInteropLedgerOnGethDev(t *testing.T) {
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
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	url := "http://" + port
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var rc *rpc.Client
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if rc, err = rpc.DialContext(ctx, url); err == nil {
			var n hexutil.Uint64
			if err = rc.CallContext(ctx, &n, "eth_blockNumber"); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("geth --dev did not answer at %s: %v", url, err)
		}
	}
	client := ethclient.NewClient(rc)
	var accounts []common.Address
	if err := rc.CallContext(ctx, &accounts, "eth_accounts"); err != nil || len(accounts) == 0 {
		t.Fatalf("dev account: %v %v", accounts, err)
	}
	ka, kb := ledger.DeterministicKey(501), ledger.DeterministicKey(502)
	ether := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	for _, k := range []*ecdsa.PrivateKey{ka, kb} {
		var h common.Hash
		to := crypto.PubkeyToAddress(k.PublicKey)
		if err := rc.CallContext(ctx, &h, "eth_sendTransaction", map[string]any{"from": accounts[0], "to": to, "value": (*hexutil.Big)(ether)}); err != nil {
			t.Fatalf("funding %s: %v", to, err)
		}
		for {
			if r, err := client.TransactionReceipt(ctx, h); err == nil && r != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	contract, r, err := chain.Deploy(ctx, client, ka, chain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("geth --dev at %s: contract %s (deploy gas %d)", url, contract, r.GasUsed)
	p2 := startPair(t, client, nil, contract, ka, kb, 5000)
	runLedgerScenario(t, p2, 5000)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
