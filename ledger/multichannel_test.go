package ledger

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// TestSeveralChannelsWithOnePartner: a second channel with the same partner (another token) is
// held beside the first, a deposit reported for one never touches the other, messages are
// routed by channel id, and a settled channel is dropped (also from disk) so a new epoch of it
// can be added.
func TestSeveralChannelsWithOnePartner(t *testing.T) {
	dir := t.TempDir()
	hub := transport.NewHub()
	a := startHubNode(t, hub, 1, filepath.Join(dir, "a.db"))
	b := startHubNode(t, hub, 2, filepath.Join(dir, "b.db"))
	d1 := link(t, a.Node, b.Node, 1000)
	d2 := d1
	d2.ChannelID = channel.Hash{0x02}
	token := testToken
	for _, n := range []*hubNode{a, b} {
		partner := b.Address()
		if n == b {
			partner = a.Address()
		}
		if err := n.ChannelOpened(Opening{Domain: d2, Partner: partner, Token: token, SettleTimeout: 3600}); err != nil {
			t.Fatalf("second channel refused: %v", err)
		}
	}
	if err := b.ChainDeposited(d2.ChannelID, a.Address(), 50); err != nil {
		t.Fatal(err)
	}
	if i := b.ChannelByID(d1.ChannelID); i.PartnerBal != 1000 {
		t.Fatalf("a deposit into the second channel changed the first: partner balance %d", i.PartnerBal)
	}
	if i := b.ChannelByID(d2.ChannelID); !i.Found || i.PartnerBal != 50 || i.Token != token || i.PartnerAddress != a.Address() {
		t.Fatalf("second channel: %+v", i)
	}
	if err := a.Pay(ctxT(t), b.Address(), 200, 1); err != nil {
		t.Fatal(err)
	}
	if i := b.ChannelByID(d1.ChannelID); i.Received != 200 {
		t.Fatalf("payment landed elsewhere: first channel received %d", i.Received)
	}
	if i := b.ChannelByID(d2.ChannelID); i.Received != 0 {
		t.Fatalf("second channel received %d", i.Received)
	}

	if err := b.ChainSettled(d1); err != nil {
		t.Fatal(err)
	}
	if i := b.ChannelByID(d1.ChannelID); i.Found {
		t.Fatal("settled channel still held")
	}
	next := d1
	next.Epoch = 2
	if err := b.ChannelOpened(Opening{Domain: next, Partner: a.Address(), SettleTimeout: 3600}); err != nil {
		t.Fatalf("new epoch refused: %v", err)
	}
	b.stop()
	b = startHubNode(t, hub, 2, filepath.Join(dir, "b.db"))
	if i := b.ChannelByID(d1.ChannelID); !i.Found || i.Domain.Epoch != 2 || i.Received != 0 {
		t.Fatalf("after restart the channel is %+v, want epoch 2 with no history", i)
	}
	if i := b.ChannelByID(d2.ChannelID); !i.Found || i.Token != token {
		t.Fatalf("after restart the second channel is %+v", i)
	}
}

// TestNodeChecksItsTimeouts: a node whose locks could outlive the shortest settle timeout it
// accepts is refused at start, and channels outside its range or token list are refused.
func TestNodeChecksItsTimeouts(t *testing.T) {
	hub := transport.NewHub()
	st, err := store.Open(filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := DeterministicKey(5)
	ep := hub.Join(crypto.PubkeyToAddress(key.PublicKey))
	_, err = NewNode(Config{Signer: channel.NewKeySigner(key), Store: st, Transport: ep,
		MinSettleTimeout: 10 * time.Minute, LockTimeout: 10 * time.Minute})
	if err == nil {
		t.Fatal("a lock timeout beyond the minimum settle timeout was accepted")
	}
	n, err := NewNode(Config{Signer: channel.NewKeySigner(key), Store: st, Transport: ep})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	d := channel.Domain{ChainID: 1, ChannelID: channel.Hash{1}, Epoch: 1}
	for _, o := range []Opening{
		{Domain: d, Partner: channel.Address{2}, SettleTimeout: 60},
		{Domain: d, Partner: channel.Address{2}, SettleTimeout: 1 << 40},
		{Domain: d, Partner: channel.Address{2}, SettleTimeout: 7200, Token: channel.Address{9}},
	} {
		if err := n.ChannelOpened(o); err == nil {
			t.Errorf("opening %+v accepted", o)
		}
	}
	if err := n.ChannelOpened(Opening{Domain: d, Partner: channel.Address{2}, SettleTimeout: 7200}); err != nil {
		t.Fatal(err)
	}
}

// TestForgedAckDoesNotReleaseOrStopTheChannel: an ack that names the partner as sender but is
// not signed by it (a spoofed transport sender) neither answers a waiting Pay nor stops the
// channel as if our store had lost proofs.
func TestForgedAckDoesNotReleaseOrStopTheChannel(t *testing.T) {
	dir := t.TempDir()
	hub := transport.NewHub()
	a := startHubNode(t, hub, 1, filepath.Join(dir, "a.db"))
	b := startHubNode(t, hub, 2, filepath.Join(dir, "b.db"))
	d := link(t, a.Node, b.Node, 1000)
	b.stop() // the partner is away: nothing acknowledges a's proof
	paid := make(chan error, 1)
	go func() { paid <- a.Pay(ctxT(t), b.Address(), 10, 1) }()
	for a.Channel(b.Address()).OwnNonce == 0 {
		time.Sleep(time.Millisecond)
	}
	for _, nonce := range []uint64{1, 1000} {
		a.deliver(b.Address(), channel.EncodeAck(channel.Ack{ChannelID: d.ChannelID, Epoch: d.Epoch, Nonce: nonce}))
	}
	select {
	case err := <-paid:
		t.Fatalf("a forged ack answered the payment: %v", err)
	case <-time.After(150 * time.Millisecond):
	}
	if i := a.Channel(b.Address()); !i.Synced || i.Acked != 0 {
		t.Fatalf("after forged acks: synced %v, acked %d", i.Synced, i.Acked)
	}
}

// TestPaymentsWaitingForSyncAreBounded: while a restarted node waits for a partner that never
// answers its Sync, payments queue up to maxWaiting and further ones are refused with ErrBusy.
func TestPaymentsWaitingForSyncAreBounded(t *testing.T) {
	dir := t.TempDir()
	hub := transport.NewHub()
	a := startHubNode(t, hub, 1, filepath.Join(dir, "a.db"))
	b := startHubNode(t, hub, 2, filepath.Join(dir, "b.db"))
	link(t, a.Node, b.Node, 1_000_000)
	b.stop()
	a.stop()
	a = startHubNode(t, hub, 1, a.path) // unsynced until b answers, which it never does
	dones := make([]chan error, maxWaiting+1)
	for i := range dones {
		dones[i] = make(chan error, 1)
		if err := a.submit(&payEvent{partner: b.Address(), amount: 1, done: dones[i]}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-dones[maxWaiting]:
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("payment beyond the bound: %v, want ErrBusy", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the payment beyond the bound was queued too")
	}
	select {
	case err := <-dones[0]:
		t.Fatalf("a payment within the bound was answered before the partner synced: %v", err)
	default:
	}
}
