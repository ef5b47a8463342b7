package mesh

// Regression tests for the independent review of issue 9, one per finding.

import (
	"crypto/ecdsa"
	"errors"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/internal/clock"
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

type capLink struct{ raws [][]byte }

func (l *capLink) send(_ Code, raw []byte, _ bool) bool { l.raws = append(l.raws, raw); return true }
func (l *capLink) ack(uint64)                           {}

// An author's envelope with expiry at the relay's now+MaxTTL is relayed; a neighbour whose clock is
// 2 s behind the relay's punishes the honest relay as far-future and disconnects it.
func TestRegressionClockSkewPunishesHonestRelay(t *testing.T) {
	cr := clock.NewSim(simEpoch)
	cn := clock.NewSim(simEpoch.Add(-2 * time.Second))
	kr, kn, ka := SeededKey(26, 0), SeededKey(26, 1), SeededKey(26, 2)
	R := newRouter(kr, cr, DefaultOptions("c"))
	N := newRouter(kn, cn, DefaultOptions("c"))
	aAddr := crypto.PubkeyToAddress(ka.PublicKey)
	toN := &capLink{}
	R.peerUp(aAddr, &capLink{}, PeerInfo{})
	R.peerUp(N.self, toN, PeerInfo{})
	N.peerUp(R.self, &capLink{}, PeerInfo{})
	var last verdict
	for i := 0; i < 6; i++ {
		e := &Envelope{Code: CodeGossip, Community: "c", Seq: uint64(i + 1), ExpiryMs: uint64(cr.Now().Add(2 * time.Hour).UnixMilli()), Payload: []byte("x")}
		_ = e.Sign(ka)
		if v := R.receive(aAddr, e.Encode()); v.err != nil {
			t.Fatalf("relay refused: %v", v.err)
		}
	}
	for _, raw := range toN.raws {
		last = N.receive(R.self, raw)
	}
	t.Logf("relayed %d; N's last verdict for R: %+v; R score at N %d", len(toN.raws), last, N.known[R.self].Score)
	if last.disconnect {
		t.Errorf("honest relay disconnected by a neighbour 2 s behind it")
	}
}

// The author of a far-future envelope is still scored for it; one within the clock slack is not.
func TestRegressionFarFutureScoresOnlyTheAuthor(t *testing.T) {
	clk := clock.NewSim(simEpoch)
	ka := SeededKey(26, 3)
	N := newRouter(SeededKey(26, 4), clk, DefaultOptions("c"))
	aAddr := crypto.PubkeyToAddress(ka.PublicKey)
	N.peerUp(aAddr, &capLink{}, PeerInfo{})
	send := func(seq uint64, expiry time.Duration) verdict {
		e := &Envelope{Code: CodeGossip, Community: "c", Seq: seq, ExpiryMs: uint64(clk.Now().Add(expiry).UnixMilli()), Payload: []byte("x")}
		_ = e.Sign(ka)
		return N.receive(aAddr, e.Encode())
	}
	if v := send(1, 2*time.Hour+clockSlack/2); v.err != nil {
		t.Fatalf("expiry within the clock slack refused: %v", v.err)
	}
	if v := send(2, 3*time.Hour); v.err == nil {
		t.Fatal("an expiry an hour beyond MaxTTL was accepted")
	}
	if s := N.known[aAddr].Score; s >= 1 {
		t.Errorf("author of a far-future envelope has score %d, want it penalised", s)
	}
}

// An attacker with many keys fills the replay-window table; honest new streams are then refused.
func TestRegressionWindowTableExhaustion(t *testing.T) {
	clk := clock.NewSim(simEpoch)
	opt := DefaultOptions("test-community")
	opt.MaxStreams = 300 // the default 65536 is the same logic, just slower to fill
	net := NewMemNetwork(clk, 1, LinkProfile{Latency: time.Millisecond}, opt)
	v := net.AddNode(SeededKey(23, 0))
	att := net.AddNode(SeededKey(23, 1))
	honest := net.AddNode(SeededKey(23, 2))
	_ = net.Connect(v.Self(), att.Self())
	_ = net.Connect(v.Self(), honest.Self())
	sub := v.Subscribe(CodeGossip)
	for i := 0; i < 300; i++ {
		k, _ := crypto.GenerateKey()
		e := &Envelope{Code: CodeGossip, Community: "test-community", Seq: 1, ExpiryMs: uint64(clk.Now().Add(time.Minute).UnixMilli()), Payload: []byte("x")}
		_ = e.Sign(k)
		net.Inject(att.Self(), v.Self(), e.Encode())
	}
	net.Settle(clk.Now().Add(time.Second))
	for len(sub.C()) > 0 {
		<-sub.C()
	}
	clk.Advance(10 * time.Minute)
	_ = honest.Broadcast(CodeGossip, []byte("honest"))
	net.Settle(clk.Now().Add(time.Second))
	s, up := 0, false
	for _, p := range v.Peers() {
		if p.Address == att.Self() {
			s, up = p.Score, p.Connected
		}
	}
	t.Logf("attacker score %d connected %v; honest delivered %d; stats %+v", s, up, len(sub.C()), v.Stats())
	if len(sub.C()) == 0 {
		t.Errorf("honest broadcast refused after the window table was filled by throwaway keys")
	}
	if s > 0 {
		t.Errorf("attacker earned score %d by sending envelopes of throwaway authors", s)
	}
}

// A neighbour introduces new authors at a bounded rate; beyond it, what it authored costs it score.
func TestRegressionNewAuthorsPerNeighbourBounded(t *testing.T) {
	clk := clock.NewSim(simEpoch)
	opt := DefaultOptions("test-community")
	opt.NewAuthorBurst, opt.NewAuthorRate = 10, 1
	net := NewMemNetwork(clk, 1, LinkProfile{Latency: time.Millisecond}, opt)
	v := net.AddNode(SeededKey(28, 0))
	att := net.AddNode(SeededKey(28, 1))
	_ = net.Connect(v.Self(), att.Self())
	sub := v.Subscribe(CodeGossip)
	for i := 0; i < 50; i++ {
		e := &Envelope{Code: CodeGossip, Community: "test-community", Seq: 1, ExpiryMs: uint64(clk.Now().Add(time.Minute).UnixMilli()), Payload: []byte("x")}
		_ = e.Sign(SeededKey(29, i))
		net.Inject(att.Self(), v.Self(), e.Encode())
	}
	net.Settle(clk.Now().Add(time.Second))
	if n := len(sub.C()); n != 10 {
		t.Errorf("%d envelopes of new authors delivered from one neighbour, want the burst of 10", n)
	}
	for _, p := range v.Peers() {
		if p.Address == att.Self() && p.Score >= 0 {
			t.Errorf("neighbour introducing 50 authors at once has score %d, want it penalised", p.Score)
		}
	}
}

// Direct envelopes a peer never acknowledges pile up beyond QueuePerPeer / QueueTotal.
func TestRegressionInflightUnbounded(t *testing.T) {
	c := newCommunity(t, 2, line(2), LinkProfile{Latency: time.Millisecond, Drop: 1.0}, 24)
	a, b := c.nodes[0], c.nodes[1]
	for i := 0; i < 2000; i++ {
		if err := a.Send(b.Self(), CodeLedger, []byte{byte(i)}); err != nil {
			if !errors.Is(err, ErrQueueFull) {
				t.Fatal(err)
			}
			break
		}
	}
	u := a.Unacknowledged(b.Self())
	c.net.Disconnect(a.Self(), b.Self())
	q := a.QueuedFor(b.Self())
	err := a.Send(b.Self(), CodeLedger, []byte("new"))
	t.Logf("unacknowledged %d, queued after disconnect %d (QueuePerPeer 512); next send: %v", u, q, err)
	if q > 512 {
		t.Errorf("store-and-forward queue for one peer holds %d > QueuePerPeer 512", q)
	}
}

// A channel partner's payment stream over CodeLedger has its own, larger budget: 1,500 at once are
// delivered and cost no score, and do not eat the partner's budget for other codes.
func TestRegressionLedgerStreamHasItsOwnBudget(t *testing.T) {
	clk := clock.NewSim(simEpoch)
	ka := SeededKey(33, 0)
	n := newRouter(SeededKey(33, 1), clk, DefaultOptions("c"))
	a := crypto.PubkeyToAddress(ka.PublicKey)
	n.peerUp(a, &capLink{}, PeerInfo{})
	send := func(code Code, to Address, seq uint64) verdict {
		e := &Envelope{Code: code, To: to, Community: "c", Seq: seq, ExpiryMs: uint64(clk.Now().Add(time.Minute).UnixMilli()), Payload: []byte("pay")}
		_ = e.Sign(ka)
		return n.receive(a, e.Encode())
	}
	for i := uint64(1); i <= 1500; i++ {
		if v := send(CodeLedger, n.self, i); v.err != nil {
			t.Fatalf("ledger envelope %d refused: %v", i, v.err)
		}
	}
	if v := send(CodeTelemetry, Address{}, 1); v.err != nil {
		t.Errorf("telemetry after the payment stream refused: %v", v.err)
	}
	if s := n.known[a].Score; s < 0 {
		t.Errorf("partner's score %d after its payment stream", s)
	}
}
