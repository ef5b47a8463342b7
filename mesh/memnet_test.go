package mesh

import (
	"fmt"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/clock"
)

var simEpoch = time.Date(2026, 6, 21, 12, 0, 0, 0, time.UTC)

type community struct {
	clk   *clock.Sim
	net   *MemNetwork
	nodes []*MemNode
	subs  []Subscription
}

func newCommunity(t testing.TB, n int, lists [][]int, profile LinkProfile, seed uint64) *community {
	t.Helper()
	c := &community{clk: clock.NewSim(simEpoch)}
	opt := DefaultOptions("test-community")
	opt.HopLimit = 32
	c.net = NewMemNetwork(c.clk, seed, profile, opt)
	for i := range n {
		node := c.net.AddNode(SeededKey(seed, i))
		c.nodes = append(c.nodes, node)
		c.subs = append(c.subs, node.Subscribe(CodeGossip))
	}
	if err := c.net.ConnectLists(c.nodes, lists); err != nil {
		t.Fatal(err)
	}
	return c
}

// drain returns, per node, the messages its gossip subscription holds.
func (c *community) drain() [][]Message {
	out := make([][]Message, len(c.subs))
	for i, s := range c.subs {
		for {
			select {
			case m := <-s.C():
				out[i] = append(out[i], m)
				continue
			default:
			}
			break
		}
	}
	return out
}

// reach broadcasts one message from node 0 and returns when the last node had it.
func (c *community) reach(t testing.TB, payload string) time.Duration {
	t.Helper()
	start := c.clk.Now()
	if err := c.nodes[0].Broadcast(CodeGossip, []byte(payload)); err != nil {
		t.Fatal(err)
	}
	var last time.Time
	got := make([]bool, len(c.nodes))
	got[0] = true
	missing := len(c.nodes) - 1
	for missing > 0 && c.net.Pending() > 0 {
		c.net.Deliver(c.nextEvent())
		for i, s := range c.subs {
			for drained := false; !drained; {
				select {
				case m := <-s.C():
					if string(m.Payload) != payload || m.From != c.nodes[0].Self() {
						t.Fatalf("node %d got %q from %s", i, m.Payload, m.From)
					}
					if got[i] {
						t.Fatalf("node %d got %q twice", i, payload)
					}
					got[i], last = true, c.clk.Now()
					missing--
				default:
					drained = true
				}
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d nodes never got the broadcast", missing, len(c.nodes))
	}
	c.net.Settle(c.clk.Now().Add(time.Hour))
	for i, ms := range c.drain() {
		if len(ms) > 0 {
			t.Fatalf("node %d got %d duplicates", i, len(ms))
		}
	}
	return last.Sub(start)
}

func (c *community) nextEvent() time.Time {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	return c.net.events[0].at
}

func line(n int) [][]int {
	l := make([][]int, n)
	for i := range n - 1 {
		l[i] = []int{i + 1}
	}
	return l
}

func TestMemGossipReachesALineOnceEach(t *testing.T) {
	c := newCommunity(t, 10, line(10), LinkProfile{Latency: 10 * time.Millisecond}, 1)
	d := c.reach(t, "hello")
	if d != 90*time.Millisecond {
		t.Fatalf("last node after %v, want 9 hops × 10 ms", d)
	}
}

func TestMemSendIsSignedAndDirect(t *testing.T) {
	c := newCommunity(t, 3, line(3), LinkProfile{Latency: time.Millisecond}, 2)
	sub := c.nodes[1].Subscribe(CodeLedger)
	if err := c.nodes[0].Send(c.nodes[1].Self(), CodeLedger, []byte("pay 5")); err != nil {
		t.Fatal(err)
	}
	c.net.Settle(c.clk.Now().Add(time.Second))
	m := <-sub.C()
	if m.From != c.nodes[0].Self() || m.Via != c.nodes[0].Self() || string(m.Payload) != "pay 5" || m.Code != CodeLedger {
		t.Fatalf("got %+v", m)
	}
	if err := c.nodes[0].Send(c.nodes[0].Self(), CodeLedger, nil); err == nil {
		t.Fatal("send to self accepted")
	}
	big := make([]byte, 16<<10+1)
	if err := c.nodes[0].Send(c.nodes[1].Self(), CodeLedger, big); err == nil {
		t.Fatal("payload over the ledger cap accepted")
	}
	if err := c.nodes[0].Broadcast(Code(0x7f), nil); err == nil {
		t.Fatal("unknown code accepted")
	}
}

func TestMemThousandNodesAllReached(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	c := newCommunity(t, n, RingWithChords(n, 4, 2, 3), LinkProfile{Latency: 5 * time.Millisecond, Jitter: 5 * time.Millisecond}, 3)
	d := c.reach(t, "community-wide")
	st := c.net.Stats()
	t.Logf("%d nodes: last reached after %v simulated; %d link messages (%.1f per node)", n, d, st.Sent, float64(st.Sent)/float64(n))
}

func TestMemLossAndJitterStillReachEveryNode(t *testing.T) {
	const n = 200
	lists := RingWithChords(n, 4, 2, 4)
	clean := newCommunity(t, n, lists, LinkProfile{Latency: 20 * time.Millisecond}, 4).reach(t, "x")
	for seed := uint64(1); seed <= 5; seed++ {
		lossy := newCommunity(t, n, lists, LinkProfile{Latency: 20 * time.Millisecond, Jitter: 200 * time.Millisecond, Drop: 0.2}, seed)
		d := lossy.reach(t, "x")
		t.Logf("seed %d: 20%% loss + 200 ms jitter: last of %d nodes after %v (clean links: %v, +%v)", seed, n, d, clean, d-clean)
	}
}

func TestMemSameSeedSameRun(t *testing.T) {
	run := func() string {
		c := newCommunity(t, 100, RingWithChords(100, 4, 1, 9), LinkProfile{Latency: 20 * time.Millisecond, Jitter: 200 * time.Millisecond, Drop: 0.2}, 9)
		return fmt.Sprint(c.reach(t, "det"), c.net.Stats())
	}
	if a, b := run(), run(); a != b {
		t.Fatalf("two runs with one seed differ: %s vs %s", a, b)
	}
}

func TestMemPartitionHealsWithNothingLostOrTwice(t *testing.T) {
	c := newCommunity(t, 4, line(4), LinkProfile{Latency: 10 * time.Millisecond}, 5)
	a, b := c.nodes[0], c.nodes[1]
	sub := b.Subscribe(CodeMarket)
	c.net.Disconnect(a.Self(), b.Self())
	for i := range 50 {
		if err := a.Send(b.Self(), CodeMarket, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Broadcast(CodeGossip, []byte("during partition")); err != nil {
		t.Fatal(err)
	}
	if q := a.QueuedFor(b.Self()); q != 50 {
		t.Fatalf("%d queued, want 50", q)
	}
	c.net.Settle(c.clk.Now().Add(time.Minute))
	if err := c.net.Connect(a.Self(), b.Self()); err != nil {
		t.Fatal(err)
	}
	c.net.Settle(c.clk.Now().Add(time.Minute))
	for i := range 50 {
		m := <-sub.C()
		if m.Payload[0] != byte(i) {
			t.Fatalf("message %d arrived as %d", i, m.Payload[0])
		}
	}
	select {
	case m := <-sub.C():
		t.Fatalf("extra message %v", m)
	default:
	}
	got := c.drain()
	for i := 1; i < 4; i++ {
		if len(got[i]) != 1 || string(got[i][0].Payload) != "during partition" {
			t.Fatalf("node %d got %d broadcasts after the heal", i, len(got[i]))
		}
	}
}

func TestMemRestartedNodeCatchesUp(t *testing.T) {
	c := newCommunity(t, 3, [][]int{{1, 2}, {2}}, LinkProfile{Latency: 10 * time.Millisecond}, 6)
	before := c.nodes[2].Self()
	c.net.Disconnect(c.nodes[0].Self(), before)
	c.net.Disconnect(c.nodes[1].Self(), before)
	if err := c.nodes[0].Broadcast(CodeGossip, []byte("while away")); err != nil {
		t.Fatal(err)
	}
	if err := c.nodes[0].Send(before, CodeGossip, []byte("for you")); err != nil {
		t.Fatal(err)
	}
	c.net.Settle(c.clk.Now().Add(time.Minute))
	fresh := c.net.Restart(before) // reconnects to nothing: its links were cut
	sub := fresh.Subscribe(CodeGossip)
	_ = c.net.Connect(c.nodes[1].Self(), before)
	_ = c.net.Connect(c.nodes[0].Self(), before)
	c.net.Settle(c.clk.Now().Add(time.Minute))
	seen := map[string]int{}
	for drained := false; !drained; {
		select {
		case m := <-sub.C():
			seen[string(m.Payload)]++
		default:
			drained = true
		}
	}
	if seen["while away"] != 1 || seen["for you"] != 1 || len(seen) != 2 {
		t.Fatalf("restarted node got %v", seen)
	}
}

func TestMemDirectSendsSurviveLossByAcknowledgement(t *testing.T) {
	c := newCommunity(t, 2, line(2), LinkProfile{Latency: 20 * time.Millisecond, Jitter: 200 * time.Millisecond, Drop: 0.2}, 12)
	a, b := c.nodes[0], c.nodes[1]
	sub := b.Subscribe(CodeLedger)
	for i := range 100 {
		if err := a.Send(b.Self(), CodeLedger, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	c.net.Settle(c.clk.Now().Add(10 * time.Minute))
	got := map[byte]int{}
	for drained := false; !drained; {
		select {
		case m := <-sub.C():
			got[m.Payload[0]]++
		default:
			drained = true
		}
	}
	for i := range 100 {
		if got[byte(i)] != 1 {
			t.Fatalf("direct message %d delivered %d times over a 20%% loss link", i, got[byte(i)])
		}
	}
	if u := a.Unacknowledged(b.Self()); u != 0 {
		t.Fatalf("%d still unacknowledged", u)
	}
}
