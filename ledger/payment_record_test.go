package ledger

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/fractals-energy/fractals/ledger/transport"
	bolt "go.etcd.io/bbolt"
)

// TestCorruptPaymentRecordIsNotPaidAgain: a payment retried with its id after a restart whose
// record on disk is unreadable is refused, never paid a second time.
func TestCorruptPaymentRecordIsNotPaidAgain(t *testing.T) {
	dir := t.TempDir()
	hub := transport.NewHub()
	a := startHubNode(t, hub, 1, filepath.Join(dir, "a.db"))
	b := startHubNode(t, hub, 2, filepath.Join(dir, "b.db"))
	link(t, a.Node, b.Node, 1000)
	if err := a.Pay(ctxT(t), b.Address(), 100, 7); err != nil {
		t.Fatal(err)
	}
	a.stop()
	db, err := bolt.Open(a.path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 28)
	copy(key, b.Address().Bytes())
	binary.BigEndian.PutUint64(key[20:], 7)
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("payments")).Put(key, []byte{1, 2, 3}) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	a = startHubNode(t, hub, 1, a.path)
	if err := a.Pay(ctxT(t), b.Address(), 100, 7); err == nil {
		t.Fatal("a payment whose record is corrupt was accepted")
	}
	if got := a.Channel(b.Address()).Sent; got != 100 {
		t.Fatalf("sent %d after the retry, want 100 (paid once)", got)
	}
}
