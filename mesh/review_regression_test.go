package mesh

// Regression tests for the independent review of issue 9, one per finding.

import (
	"crypto/ecdsa"
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

// Two attackers next to honest relay R each send within R's per-peer budget; R relays both to N,
// whose per-peer budget for R is exceeded: N disconnects the honest relay.
func TestRegressionRelayFloodEvictsHonestRelay(t *testing.T) {
	// nodes: 0=N, 1=R, 2=A1, 3=A2
	c := newCommunity(t, 4, [][]int{{1}, {2, 3}}, LinkProfile{Latency: time.Millisecond}, 21)
	keys := keysN(20)
	now := c.clk.Now()
	seq := uint64(1)
	for a := 2; a <= 3; a++ {
		for i := 0; i < 1900; i++ {
			k := keys[(a-2)*10+i%10] // 190 per author: under the author burst of 500
			e := &Envelope{Code: CodeTelemetry, Community: "test-community", Seq: seq, ExpiryMs: uint64(now.Add(time.Minute).UnixMilli()), Payload: []byte{byte(i)}}
			seq++
			_ = e.Sign(k)
			c.net.Inject(c.nodes[a].Self(), c.nodes[1].Self(), e.Encode())
		}
	}
	c.net.Settle(c.clk.Now().Add(time.Second))
	s21, up21 := c.score(1, 2)
	s01, up01 := c.score(0, 1)
	t.Logf("R's view of attacker A1: score %d connected %v", s21, up21)
	t.Logf("N's view of honest relay R: score %d connected %v", s01, up01)
	t.Logf("N stats %+v", c.nodes[0].Stats())
	if !up01 {
		t.Errorf("honest relay R disconnected by N (score %d) because attackers flooded through it", s01)
	}
}

func keysN(n int) []*ecdsa.PrivateKey {
	out := make([]*ecdsa.PrivateKey, n)
	for i := range out {
		out[i] = SeededKey(999, i)
	}
	return out
}
