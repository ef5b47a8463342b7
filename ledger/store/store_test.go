package store

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/fractals-energy/fractals/ledger/channel"
)

func TestCommitSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c := channel.New(channel.Domain{ChainID: 1, ChannelID: channel.Hash{5}, Epoch: 2}, channel.Address{1}, channel.Address{2})
	if err := c.SetDeposit(channel.Address{1}, 40); err != nil {
		t.Fatal(err)
	}
	rec, err := Record(c)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Commit(&Batch{Channels: []ChannelRecord{rec}, Payments: []Payment{{Partner: channel.Address{2}, ID: 7, Nonce: 3, Amount: 11}},
		Pending: []PendingAction{{Key: "0001", Data: []byte("close")}, {Key: "0002", Data: []byte("settle")}},
		Meta:    []KV{{Key: "secret/x", Value: []byte{9}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(&Batch{DonePending: []string{"0001"}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	chans, err := st.Channels()
	if err != nil || len(chans) != 1 || chans[0].Own.Deposit != 40 || chans[0].Domain.Epoch != 2 {
		t.Fatalf("channels %+v, %v", chans, err)
	}
	p, err := st.LookupPayment(channel.Address{2}, 7)
	if err != nil || p.Nonce != 3 || p.Amount != 11 {
		t.Fatalf("payment %+v, %v", p, err)
	}
	if _, err := st.LookupPayment(channel.Address{2}, 8); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown payment: %v", err)
	}
	pend, err := st.Pending()
	if err != nil || len(pend) != 1 || string(pend[0].Data) != "settle" {
		t.Fatalf("pending %+v, %v", pend, err)
	}
	if v, err := st.Meta("secret/x"); err != nil || len(v) != 1 || v[0] != 9 {
		t.Fatalf("meta %v, %v", v, err)
	}
}

// TestDurableFollowsTheSyncSetting: Durable reports bbolt's sync setting, so the bench's "durable"
// field is measured, not assumed.
func TestDurableFollowsTheSyncSetting(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.Durable() {
		t.Fatal("a store opened normally reports not durable")
	}
	st.db.NoSync = true
	if st.Durable() {
		t.Fatal("a store in NoSync mode reports durable")
	}
	st.db.NoSync = false
}
