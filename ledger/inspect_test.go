package ledger

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// TestInspectReadsWithoutChanging: a store written by a node is read back by Inspect (balances,
// nonces, payment records) without a byte of the file changing; while the node still holds it,
// Inspect refuses with ErrInUse instead of waiting or reading a file being written.
func TestInspectReadsWithoutChanging(t *testing.T) {
	hub := transport.NewHub()
	dir := t.TempDir()
	a := startHubNode(t, hub, 1, filepath.Join(dir, "a.db"))
	b := startHubNode(t, hub, 2, filepath.Join(dir, "b.db"))
	link(t, a.Node, b.Node, 1000)
	for i := uint64(1); i <= 25; i++ {
		if err := a.Pay(ctxT(t), b.Address(), 2, i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Inspect(a.path); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("inspecting a store in use: %v, want ErrInUse", err)
	}
	a.stop()
	before, err := os.ReadFile(a.path)
	if err != nil {
		t.Fatal(err)
	}
	in, err := Inspect(a.path)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(a.path)
	if string(before) != string(after) {
		t.Fatal("Inspect changed the file")
	}
	if len(in.Channels) != 1 || in.Channels[0].OwnBalance != 950 || in.Channels[0].PartnerBalance != 1050 || in.Channels[0].OwnNonce != 25 || in.Payments != 25 {
		t.Fatalf("inspection: %+v", in)
	}
	t.Logf("%s; notes %q", in.Channels[0], in.Notes)
}

// TestCorruptedStoreIsRefused: a torn file (cut in the middle) and a file with a page of garbage
// are refused by Inspect and by NewNode with an error naming the file, never a panic, and a node
// is never started from them (so nothing is signed from a broken state).
func TestCorruptedStoreIsRefused(t *testing.T) {
	hub := transport.NewHub()
	dir := t.TempDir()
	a := startHubNode(t, hub, 1, filepath.Join(dir, "a.db"))
	b := startHubNode(t, hub, 2, filepath.Join(dir, "b.db"))
	link(t, a.Node, b.Node, 1000)
	for i := uint64(1); i <= 200; i++ {
		if err := a.Pay(ctxT(t), b.Address(), 1, i); err != nil {
			t.Fatal(err)
		}
	}
	a.stop()
	good, err := os.ReadFile(a.path)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	cases := map[string][]byte{
		"torn":           good[:len(good)/2+123],
		"garbage meta":   append(append([]byte(nil), good[:16]...), append(make([]byte, 2*page-16), good[2*page:]...)...),
		"garbage page 2": garble(good, 2*page, page),
		"garbage page 3": garble(good, 3*page, page),
	}
	for name, data := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, ierr := Inspect(path)
		nerr := startOn(path)
		t.Logf("%s: inspect: %v; node: %v", name, ierr, nerr)
		if ierr == nil {
			t.Errorf("%s: Inspect accepted the file", name)
		} else if !strings.Contains(ierr.Error(), path) {
			t.Errorf("%s: inspect error %q does not name the file", name, ierr)
		}
		if nerr == nil {
			t.Errorf("%s: a node started from the file", name)
		}
	}
}

func garble(b []byte, at, n int) []byte {
	out := append([]byte(nil), b...)
	for i := at; i < at+n && i < len(out); i++ {
		out[i] = byte(i*7 + 3)
	}
	return out
}

// startOn tries to open a store at path and start a node on it, turning a panic into an error.
func startOn(path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("panic: " + strings.SplitN(strings.TrimSpace(toString(r)), "\n", 2)[0])
		}
	}()
	st, err := store.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		return err
	}
	hub := transport.NewHub()
	key := DeterministicKey(1)
	ep := hub.Join(channel.NewKeySigner(key).Address())
	defer ep.Close()
	n, err := NewNode(Config{Signer: channel.NewKeySigner(key), Store: st, Transport: ep})
	if err != nil {
		return err
	}
	n.Close()
	return errors.New("started")
}

func toString(v any) string {
	if e, ok := v.(error); ok {
		return e.Error()
	}
	if s, ok := v.(string); ok {
		return s
	}
	return "?"
}
