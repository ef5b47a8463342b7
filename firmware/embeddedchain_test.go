package firmware

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/ledger"
)

// withoutEmbeddedChain runs f as a binary built with -tags nosimchain: no chain registered.
func withoutEmbeddedChain(t *testing.T, f func()) {
	t.Helper()
	saved := registeredEmbeddedChain()
	RegisterEmbeddedChain(nil)
	defer RegisterEmbeddedChain(saved)
	f()
}

// A unit file with channels and no chain section, on the embedded default chain.
func unitFileOnEmbeddedChain(t *testing.T) string {
	t.Helper()
	base, err := os.ReadFile("config/testdata/unit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	channels := "\nchannels:\n  listen: 127.0.0.1:0\n  store: " + filepath.Join(dir, "ledger.db") +
		"\n  key_file: " + filepath.Join(dir, "key.hex") + "\n  deposit: 1000\n"
	path := filepath.Join(dir, "unit.yaml")
	if err := os.WriteFile(path, append(base, channels...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// With the embedded chain linked (development builds, make run) the default chain comes up: the
// unit's account is funded and the settlement contract deployed.
func TestLedgerOnEmbeddedDefaultChain(t *testing.T) {
	dir := t.TempDir()
	l, err := StartLedger(context.Background(), config.Chain{Backend: "simulated", Poll: time.Hour, Confirmations: 1},
		config.Channels{Listen: "127.0.0.1:0", Store: filepath.Join(dir, "ledger.db"), Deposit: 1000, SettleTimeout: time.Hour},
		LedgerOptions{Key: ledger.DeterministicKey(301)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Shutdown()
	if l.adapter == nil || l.simStop == nil {
		t.Fatal("ledger not bound to the embedded chain")
	}
	if err := CheckChainAvailable("simulated"); err != nil {
		t.Fatalf("embedded chain registered, yet: %v", err)
	}
}

// A production build (-tags nosimchain) refuses a unit on the embedded default chain at start, and
// says which file and what to configure; a JSON-RPC chain stays available.
func TestNoEmbeddedChainAsksForJSONRPC(t *testing.T) {
	path := unitFileOnEmbeddedChain(t)
	withoutEmbeddedChain(t, func() {
		_, err := StartConfiguredLedger(context.Background(), path, nil, nil, nil)
		if !errors.Is(err, ErrNoEmbeddedChain) {
			t.Fatalf("start without an embedded chain: %v", err)
		}
		for _, want := range []string{path, "backend: jsonrpc", "url:", "nosimchain"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		dir := t.TempDir()
		_, err = StartLedger(context.Background(), config.Chain{Backend: "simulated"},
			config.Channels{Listen: "127.0.0.1:0", Store: filepath.Join(dir, "ledger.db"), SettleTimeout: time.Hour},
			LedgerOptions{Key: ledger.DeterministicKey(302)})
		if !errors.Is(err, ErrNoEmbeddedChain) {
			t.Fatalf("StartLedger without an embedded chain: %v", err)
		}
		if err := CheckChainAvailable("jsonrpc"); err != nil {
			t.Fatalf("jsonrpc: %v", err)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(path), "key.hex")); err == nil {
			t.Error("a refused start created the key file")
		}
	})
}
