package mesh

import (
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/internal/clock"
)

// Peers connecting under ever new keys do not grow the table of known peers past its bound, and a
// peer with a bad score is remembered over the good ones (review finding 7).
func TestKnownPeersBounded(t *testing.T) {
	r := newRouter(SeededKey(31, 0), clock.NewSim(simEpoch), DefaultOptions("c"))
	badKey := SeededKey(31, 1)
	bad := crypto.PubkeyToAddress(badKey.PublicKey)
	r.peerUp(bad, &capLink{}, PeerInfo{})
	r.known[bad].Score = -60
	r.peerDown(bad)
	for i := 0; i < maxKnownPeers+500; i++ {
		a := Address{byte(i >> 16), byte(i >> 8), byte(i), 0xaa}
		r.peerUp(a, &capLink{}, PeerInfo{})
		r.peerDown(a)
	}
	if len(r.known) > maxKnownPeers {
		t.Errorf("%d known peers, bound %d", len(r.known), maxKnownPeers)
	}
	if p := r.known[bad]; p == nil || p.Score != -60 {
		t.Errorf("the badly scored peer was forgotten: %+v", p)
	}
}

// The ban table forgets expired bans and stays below its bound under many keys.
func TestBansBounded(t *testing.T) {
	now := simEpoch
	bans := map[Address]time.Time{{1}: now.Add(-time.Second), {2}: now.Add(time.Minute)}
	pruneBans(bans, now, 10)
	if _, ok := bans[Address{1}]; ok || len(bans) != 1 {
		t.Fatalf("expired ban kept: %v", bans)
	}
	for i := 0; i < 100; i++ {
		pruneBans(bans, now, 10)
		bans[Address{byte(i), 9}] = now.Add(time.Duration(i+2) * time.Minute)
	}
	if len(bans) > 10 {
		t.Errorf("%d bans, bound 10", len(bans))
	}
	if _, ok := bans[Address{99, 9}]; !ok {
		t.Error("the latest ban was dropped instead of the one closest to expiry")
	}
}
