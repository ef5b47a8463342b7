package mesh

import (
	"errors"
	"github.com/ethereum/go-ethereum/crypto"
	"testing"

	"github.com/fractals-energy/fractals/internal/clock"
)

// Catch-up keeps at most RecentBytes of broadcasts, whatever their count (review finding 8).
func TestRecentGossipBoundedInBytes(t *testing.T) {
	r := newRouter(SeededKey(30, 0), clock.NewSim(simEpoch), DefaultOptions("c"))
	big := make([]byte, 32<<10)
	for i := 0; i < 1024; i++ {
		if err := r.Broadcast(CodeGossip, big); err != nil {
			t.Fatal(err)
		}
	}
	held := 0
	for _, q := range r.recent {
		held += len(q.raw)
	}
	if held > r.opt.RecentBytes || held != r.recentLen {
		t.Errorf("recent holds %d bytes (counted %d), limit %d", held, r.recentLen, r.opt.RecentBytes)
	}
	if len(r.recent) == 0 || len(r.recent) == 1024 {
		t.Errorf("recent holds %d envelopes of 1024", len(r.recent))
	}
}

// Store-and-forward refuses beyond QueueBytes, counting queued and unacknowledged envelopes, and
// gives the bytes back as they are acknowledged.
func TestStoreAndForwardBoundedInBytes(t *testing.T) {
	opt := DefaultOptions("c")
	opt.QueueBytes = 1 << 20
	r := newRouter(SeededKey(30, 1), clock.NewSim(simEpoch), opt)
	to := crypto.PubkeyToAddress(SeededKey(30, 2).PublicKey)
	l := &capLink{}
	r.peerUp(to, l, PeerInfo{})
	big := make([]byte, 16<<10)
	sent := 0
	for ; sent < 500; sent++ {
		if err := r.Send(to, CodeLedger, big); err != nil {
			if !errors.Is(err, ErrQueueFull) {
				t.Fatal(err)
			}
			break
		}
	}
	if sent == 500 || r.heldBytes > opt.QueueBytes {
		t.Fatalf("%d sends of 16 KiB taken, %d bytes held, limit %d", sent, r.heldBytes, opt.QueueBytes)
	}
	for _, q := range append([]queued(nil), r.inflight[to]...) {
		r.acked(to, q.seq)
	}
	if r.heldBytes != 0 || r.queuedAll != 0 {
		t.Errorf("after every acknowledgement %d bytes, %d envelopes still counted", r.heldBytes, r.queuedAll)
	}
	if err := r.Send(to, CodeLedger, big); err != nil {
		t.Errorf("send after the acknowledgements: %v", err)
	}
}

// A peer's write queue refuses beyond writeQueueBytes long before its 2048 slots are full.
func TestWriteQueueBoundedInBytes(t *testing.T) {
	d := &devPeer{own: make(chan outMsg, writeQueueDepth), out: make(chan outMsg, writeQueueDepth), closed: make(chan struct{})}
	raw := make([]byte, 64<<10)
	n := 0
	for n < writeQueueDepth && d.send(CodeMarket, raw, false) {
		n++
	}
	if want := writeQueueBytes / len(raw); n != want {
		t.Errorf("%d envelopes of 64 KiB queued, want %d (%d bytes)", n, want, writeQueueBytes)
	}
	if !d.send(CodeMarket, raw, true) {
		t.Error("own queue refused while only the relay queue was full")
	}
}
