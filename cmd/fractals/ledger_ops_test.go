package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"math/big"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/chain"
)

func loopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestLedgerOperatorCommands drives the operator's commands against two ledgers served by the
// daemon's API on a simulated chain: channels shows the channel the daemons opened by
// themselves, pay and settle act through the API, and inspect reads the stopped stores and says
// what is still queued.
func TestLedgerOperatorCommands(t *testing.T) {
	ka, kb := ledger.DeterministicKey(301), ledger.DeterministicKey(302)
	ether := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	alloc := types.GenesisAlloc{crypto.PubkeyToAddress(ka.PublicKey): {Balance: ether}, crypto.PubkeyToAddress(kb.PublicKey): {Balance: ether}}
	sim := simulated.NewBackend(alloc)
	defer sim.Close()
	mine := func() { sim.Commit() }
	contract, _, err := chain.Deploy(context.Background(), sim.Client(), ka, chain.Options{Mine: mine})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	at := map[*ecdsa.PrivateKey]string{ka: loopbackAddr(t), kb: loopbackAddr(t)}
	start := func(name string, key, peer *ecdsa.PrivateKey) *firmware.Ledger {
		cfg := config.Channels{Listen: at[key], Store: filepath.Join(dir, name+".db"), Deposit: 500, SettleTimeout: 10 * time.Minute,
			Neighbours: []config.Neighbour{{Address: crypto.PubkeyToAddress(peer.PublicKey).Hex(), Endpoint: at[peer]}}}
		l, err := firmware.StartLedger(context.Background(), config.Chain{Backend: "simulated", Poll: time.Hour, Confirmations: 1}, cfg,
			firmware.LedgerOptions{Key: key, Backend: sim.Client(), Mine: mine, Contract: contract})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b := start("a", ka, kb), start("b", kb, ka)
	stopped := false
	defer func() {
		if !stopped {
			a.Shutdown()
			b.Shutdown()
		}
	}()
	d := new(firmware.Daemon)
	d.AttachLedger(a)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := dispatch(append([]string{"ledger"}, args...), nil, &out, &errb)
		return code, out.String(), errb.String()
	}
	partner := b.Address().Hex()
	for i := 0; i < 20; i++ {
		a.Sync(context.Background())
		b.Sync(context.Background())
		if own, theirs, ok := a.Balance(b.Address()); ok && own == 500 && theirs == 500 {
			if _, _, ok := b.Balance(a.Address()); ok {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, out, errs := run("channels", "--api", srv.URL)
	t.Log(out)
	if code != 0 || !strings.Contains(out, partner) || !strings.Contains(out, "opened") || !strings.Contains(out, "deposit 500") {
		t.Fatalf("channels: exit %d, %q, %q", code, out, errs)
	}
	for i := 1; i <= 3; i++ {
		if code, out, errs := run("pay", "--api", srv.URL, "--partner", partner, "--amount", "10", "--id", "7"); code != 0 {
			t.Fatalf("pay (try %d): exit %d, %q, %q", i, code, out, errs)
		}
	}
	if own, _, _ := a.Balance(b.Address()); own != 490 {
		t.Fatalf("after paying id 7 three times: own balance %d, want 490 (paid once)", own)
	}
	if code, out, errs := run("settle", "--api", srv.URL, "--partner", partner); code != 0 || !strings.Contains(out, "1 on-chain action(s) pending") {
		t.Fatalf("settle: exit %d, %q, %q", code, out, errs)
	}
	if code, _, errs := run("pay", "--api", srv.URL, "--partner", partner, "--amount", "1", "--id", "8"); code != 1 || !strings.Contains(errs, "ledger pay with "+partner) {
		t.Fatalf("pay on a settling channel: exit %d, %q", code, errs)
	}
	if code, _, errs := run("deposit", "--api", srv.URL, "--partner", "0x12"); code != 2 || !strings.Contains(errs, `--partner "0x12" is not an address`) {
		t.Fatalf("bad partner: exit %d, %q", code, errs)
	}
	if code, out, _ := run("inspect", "--dir", dir); code != 1 || !strings.Contains(out, "REFUSED") || !strings.Contains(out, "open in another process") {
		t.Fatalf("inspect while the daemons hold the stores: exit %d %q", code, out)
	}
	a.Shutdown()
	b.Shutdown()
	stopped = true
	code, out, errs = run("inspect", "--dir", dir)
	t.Log(out)
	if code != 0 || !strings.Contains(out, "queued: cooperative settle") || !strings.Contains(out, "cooperative settle signed, waiting for the chain") ||
		!strings.Contains(out, "own 490 (deposit 500") {
		t.Fatalf("inspect: exit %d, %q, %q", code, out, errs)
	}
}
