package mesh

// Regression tests for the independent review of issue 9, one per finding.

import (
	"testing"
	"time"
)

// More than the replay window of direct sends at once over a lossy link: a lost early one, resent
// after highest moved past 256, is taken as a replay, acknowledged and never delivered.
func TestRegressionDirectLossBeyondWindow(t *testing.T) {
	c := newCommunity(t, 2, line(2), LinkProfile{Latency: 20 * time.Millisecond, Jitter: 200 * time.Millisecond, Drop: 0.2}, 25)
	a, b := c.nodes[0], c.nodes[1]
	sub := b.Subscribe(CodeLedger)
	const N = 500
	for i := 0; i < N; i++ {
		if err := a.Send(b.Self(), CodeLedger, []byte{byte(i >> 8), byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	c.net.Settle(c.clk.Now().Add(10 * time.Minute))
	got := map[int]int{}
	for len(sub.C()) > 0 {
		m := <-sub.C()
		got[int(m.Payload[0])<<8|int(m.Payload[1])]++
	}
	missing := 0
	for i := 0; i < N; i++ {
		if got[i] != 1 {
			missing++
		}
	}
	t.Logf("%d of %d direct messages not delivered exactly once; unacked %d; stats %+v", missing, N, a.Unacknowledged(b.Self()), b.Stats())
	if missing > 0 {
		t.Errorf("%d direct messages lost (acknowledged as replays)", missing)
	}
}

// Jitter alone reorders a burst of direct sends by more than the replay window.
func TestRegressionDirectJitterOnlyBeyondWindow(t *testing.T) {
	c := newCommunity(t, 2, line(2), LinkProfile{Latency: 20 * time.Millisecond, Jitter: 200 * time.Millisecond}, 27)
	a, b := c.nodes[0], c.nodes[1]
	sub := b.Subscribe(CodeLedger)
	for i := 0; i < 400; i++ {
		_ = a.Send(b.Self(), CodeLedger, []byte{byte(i >> 8), byte(i)})
	}
	c.net.Settle(c.clk.Now().Add(10 * time.Minute))
	t.Logf("no loss, 200 ms jitter: %d of 400 delivered, unacked %d, stats %+v", len(sub.C()), a.Unacknowledged(b.Self()), b.Stats())
	if len(sub.C()) != 400 {
		t.Errorf("%d of 400 direct messages delivered", len(sub.C()))
	}
}
