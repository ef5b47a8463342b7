package mesh

import (
	"math/rand/v2"
	"testing"
)

func TestWindowAcceptsEachSequenceOnceAndRefusesTheTooOld(t *testing.T) {
	var w window
	for _, s := range []uint64{1000, 998, 1001, 1300, 1100} {
		if w.seen(s) {
			t.Fatalf("seq %d seen before it was marked", s)
		}
		w.mark(s)
		if !w.seen(s) {
			t.Fatalf("seq %d not seen after it was marked", s)
		}
	}
	// 1000 and 1001 are now more than 256 below 1300: replays.
	if !w.seen(1001) || !w.seen(1000) || !w.seen(1043) {
		t.Fatal("sequence numbers below the window accepted")
	}
	if w.seen(1299) || w.seen(1200) {
		t.Fatal("unmarked sequence numbers inside the window refused")
	}
}

func TestWindowMatchesASetWithinTheWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var w window
	delivered := map[uint64]bool{}
	var highest uint64
	for range 20000 {
		s := 10000 + uint64(rng.IntN(3000))
		want := delivered[s] || (highest >= windowBits && s <= highest-windowBits)
		if len(delivered) == 0 {
			want = false
		}
		if got := w.seen(s); got != want {
			t.Fatalf("seen(%d) = %v, want %v (highest %d)", s, got, want, highest)
		}
		if !want {
			w.mark(s)
			delivered[s] = true
			highest = max(highest, s)
		}
	}
}
