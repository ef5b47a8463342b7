package mesh

import (
	"crypto/ecdsa"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/p2p/enode"
)

const testCommunity = "loopback-test"

func startNode(t testing.TB, key *ecdsa.PrivateKey, listen string, mod func(*NodeConfig)) *Node {
	t.Helper()
	cfg := NodeConfig{Key: key, Listen: listen, Options: DefaultOptions(testCommunity)}
	cfg.Options.HopLimit = 32
	if mod != nil {
		mod(&cfg)
	}
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// eventually polls cond until it holds or the deadline passes: the network is real, so this waits on
// real time, but the assertion is on what happened, not on how fast.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// staticMesh starts n nodes; of each pair named in lists, the lower index dials the higher.
func staticMesh(t testing.TB, n int, lists [][]int) []*Node {
	t.Helper()
	nodes := make([]*Node, n)
	for i := range n {
		nodes[i] = startNode(t, SeededKey(99, i), "127.0.0.1:0", nil)
	}
	want := make([]int, n)
	linked := map[[2]int]bool{}
	for i, l := range lists {
		for _, j := range l {
			a, b := min(i, j), max(i, j)
			if a == b || linked[[2]int{a, b}] {
				continue
			}
			linked[[2]int{a, b}] = true
			nodes[a].AddPeer(nodes[b].Enode())
			want[a]++
			want[b]++
		}
	}
	eventually(t, 20*time.Second, "links not all up", func() bool {
		for i, nd := range nodes {
			if nd.PeerCount() < want[i] {
				return false
			}
		}
		return true
	})
	return nodes
}

// gossipReach broadcasts from nodes[0] and waits until every other node delivered it exactly once.
func gossipReach(t testing.TB, nodes []*Node, payload string) time.Duration {
	t.Helper()
	subs := make([]Subscription, len(nodes))
	for i, nd := range nodes {
		subs[i] = nd.Subscribe(CodeGossip)
		defer subs[i].Close()
	}
	start := time.Now()
	if err := nodes[0].Broadcast(CodeGossip, []byte(payload)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(nodes))
	for i := 1; i < len(nodes); i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			select {
			case m := <-subs[i].C():
				if string(m.Payload) != payload || m.From != nodes[0].Self() {
					errs <- fmt.Errorf("node %d got %q from %s", i, m.Payload, m.From)
				}
			case <-time.After(20 * time.Second):
				errs <- fmt.Errorf("node %d never got %q", i, payload)
			}
		}(i)
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let relays still in flight arrive, to catch duplicates
	for i := 1; i < len(nodes); i++ {
		select {
		case m := <-subs[i].C():
			t.Fatalf("node %d got a second message %q", i, m.Payload)
		default:
		}
	}
	return took
}

func TestNodeThreeStaticSendBroadcastAndPeerInfo(t *testing.T) {
	nodes := staticMesh(t, 3, [][]int{{1}, {2}})
	sub := nodes[1].Subscribe(CodeLedger)
	if err := nodes[0].Send(nodes[1].Self(), CodeLedger, []byte("balance proof")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.C():
		if m.From != nodes[0].Self() || m.Via != nodes[0].Self() || string(m.Payload) != "balance proof" {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("direct send never arrived")
	}
	gossipReach(t, nodes, "three")
	eventually(t, 10*time.Second, "no RTT measured", func() bool {
		ps := nodes[1].Peers()
		return len(ps) == 2 && ps[0].RTT > 0 && ps[1].RTT > 0
	})
	for _, p := range nodes[1].Peers() {
		if !p.Connected || p.MsgsIn+p.MsgsOut == 0 || p.BytesIn+p.BytesOut == 0 || !strings.HasPrefix(p.Enode, "enode://") || p.Remote == "" {
			t.Fatalf("peer info %+v", p)
		}
		if p.Address == nodes[0].Self() && !p.Inbound {
			t.Fatalf("node 0 dialled node 1, but it shows as outbound: %+v", p)
		}
	}
	if !strings.HasPrefix(nodes[0].ENR(), "enr:") {
		t.Fatalf("ENR %q", nodes[0].ENR())
	}
}

func TestNodeTenStaticAndFiftyStaticAllReached(t *testing.T) {
	for _, n := range []int{10, 50} {
		nodes := staticMesh(t, n, RingWithChords(n, 2, 1, uint64(n)))
		d := gossipReach(t, nodes, fmt.Sprintf("to %d", n))
		t.Logf("%d loopback nodes: last delivery after %v", n, d)
	}
}

// discoveredMesh starts n nodes with discovery v5 and no static peers, all bootstrapped from the
// first, each admitting maxPeers (0: the default), and waits until their links form one component in
// which every node has at least minPeers.
func discoveredMesh(t *testing.T, seed uint64, n, maxPeers, minPeers int) []*Node {
	t.Helper()
	boot := startNode(t, SeededKey(seed, 0), "127.0.0.1:0", func(c *NodeConfig) { c.Discovery = true; c.MaxPeers = maxPeers })
	nodes := []*Node{boot}
	for i := 1; i < n; i++ {
		nodes = append(nodes, startNode(t, SeededKey(seed, i), "127.0.0.1:0", func(c *NodeConfig) {
			c.Discovery = true
			c.MaxPeers = maxPeers
			c.Bootnodes = []*enode.Node{boot.srv.LocalNode().Node()}
		}))
	}
	eventually(t, 90*time.Second, fmt.Sprintf("%d discovered nodes did not connect to each other", n), func() bool {
		for _, nd := range nodes {
			if nd.PeerCount() < minPeers {
				return false
			}
		}
		return connected(nodes)
	})
	return nodes
}

func TestNodeDiscoveredCommunityFiltersStrangers(t *testing.T) {
	nodes := discoveredMesh(t, 7, 10, 0, 2)
	stranger := startNode(t, SeededKey(7, 100), "127.0.0.1:0", func(c *NodeConfig) {
		c.Discovery = true
		c.Bootnodes = []*enode.Node{nodes[0].srv.LocalNode().Node()}
		c.Options.Community = "someone-else"
	})
	gossipReach(t, nodes, "discovered")
	// The stranger is in everyone's discovery table by now; no one dialled it, nor it anyone.
	eventually(t, 30*time.Second, "the stranger was not found by discovery", func() bool {
		d := nodes[0].srv.DiscoveryV5()
		for _, nd := range d.AllNodes() {
			if nd.ID() == stranger.Enode().ID() {
				return true
			}
		}
		return false
	})
	time.Sleep(2 * discoverEvery)
	if c := stranger.PeerCount(); c != 0 {
		t.Fatalf("stranger of another community has %d fractals peers", c)
	}
}

// Three and fifty units that know nothing of each other but a bootstrap record find each other by
// discovery v5 and reach each other by gossip. The fifty admit 8 peers each (devp2p dials out to a
// third of them), so the test costs a sparse mesh on a small machine, not 50 x 49 links.
func TestNodeDiscoveredThreeAndFiftyAllReached(t *testing.T) {
	for _, c := range []struct{ n, maxPeers, minPeers int }{{3, 0, 2}, {50, 8, 1}} {
		start := time.Now()
		nodes := discoveredMesh(t, 70+uint64(c.n), c.n, c.maxPeers, c.minPeers)
		formed := time.Since(start)
		links := 0
		for _, nd := range nodes {
			links += nd.PeerCount()
		}
		d := gossipReach(t, nodes, fmt.Sprintf("discovered %d", c.n))
		t.Logf("%d discovered nodes: one component after %v with %d links; gossip to the last after %v", c.n, formed, links/2, d)
		for _, nd := range nodes {
			nd.Close()
		}
	}
}

// connected reports whether the nodes' links form one component.
func connected(nodes []*Node) bool {
	index := map[Address]int{}
	for i, nd := range nodes {
		index[nd.Self()] = i
	}
	seen := map[int]bool{0: true}
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, p := range nodes[i].Peers() {
			if j, ok := index[p.Address]; ok && p.Connected && !seen[j] {
				seen[j] = true
				stack = append(stack, j)
			}
		}
	}
	return len(seen) == len(nodes)
}

func TestNodeRefusesAnotherCommunityWithAReason(t *testing.T) {
	a := startNode(t, SeededKey(8, 0), "127.0.0.1:0", nil)
	b := startNode(t, SeededKey(8, 1), "127.0.0.1:0", func(c *NodeConfig) { c.Options.Community = "other" })
	h := &helloMsg{Version: ProtocolVersion, Community: "other"}
	if r := a.refusal(b.Self(), h); !strings.Contains(r, `community "other"`) {
		t.Fatalf("refusal reason %q", r)
	}
	if r := a.refusal(b.Self(), &helloMsg{Version: 9, Community: testCommunity}); !strings.Contains(r, "version 9") {
		t.Fatalf("refusal reason %q", r)
	}
	b.AddPeer(a.Enode())
	time.Sleep(500 * time.Millisecond)
	if a.PeerCount() != 0 || b.PeerCount() != 0 {
		t.Fatalf("units of two communities linked: %d, %d", a.PeerCount(), b.PeerCount())
	}
}

func TestNodeRestartRedialsAndCatchesUp(t *testing.T) {
	a := startNode(t, SeededKey(9, 0), "127.0.0.1:0", nil)
	c := startNode(t, SeededKey(9, 2), "127.0.0.1:0", nil)
	keyB := SeededKey(9, 1)
	b := startNode(t, keyB, "127.0.0.1:0", func(cfg *NodeConfig) { cfg.Static = []*enode.Node{a.Enode(), c.Enode()} })
	eventually(t, 10*time.Second, "b not linked", func() bool { return b.PeerCount() == 2 })
	port := b.Enode().TCP()
	addrB := b.Self()
	b.Close()
	// Send at once: a may not have noticed that b is gone, and what its link took must not be lost.
	for i := range 20 {
		if err := a.Send(addrB, CodeMarket, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Broadcast(CodeGossip, []byte("while b was away")); err != nil {
		t.Fatal(err)
	}
	// Once a's router has seen b go, everything its link took unacknowledged is back in the queue.
	eventually(t, 10*time.Second, "a does not hold all 20 queued for b", func() bool {
		return a.PeerCount() == 0 && c.PeerCount() == 0 && a.QueuedFor(addrB) == 20 && a.Unacknowledged(addrB) == 0
	})
	b2 := startNode(t, keyB, net.JoinHostPort("127.0.0.1", fmt.Sprint(port)), func(cfg *NodeConfig) {
		cfg.Static = []*enode.Node{a.Enode(), c.Enode()}
	})
	market, gossip := b2.Subscribe(CodeMarket), b2.Subscribe(CodeGossip)
	eventually(t, 10*time.Second, "restarted b not linked again", func() bool { return b2.PeerCount() == 2 })
	for i := range 20 {
		select {
		case m := <-market.C():
			if m.Payload[0] != byte(i) || m.From != a.Self() {
				t.Fatalf("market message %d: %+v", i, m)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("queued message %d never arrived", i)
		}
	}
	select {
	case m := <-gossip.C():
		if string(m.Payload) != "while b was away" {
			t.Fatalf("gossip %q", m.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("missed broadcast not caught up")
	}
	time.Sleep(100 * time.Millisecond)
	select {
	case m := <-market.C():
		t.Fatalf("delivered twice: %+v", m)
	case m := <-gossip.C():
		t.Fatalf("delivered twice: %+v", m)
	default:
	}
	if q := a.QueuedFor(addrB); q != 0 {
		t.Fatalf("%d still queued", q)
	}
}

func TestNodeKeyIsTheUnitAddress(t *testing.T) {
	k := SeededKey(10, 0)
	n := startNode(t, k, "127.0.0.1:0", nil)
	if n.Self() != crypto.PubkeyToAddress(k.PublicKey) || n.Enode().Pubkey().X.Cmp(k.PublicKey.X) != 0 {
		t.Fatal("node identity is not the unit key")
	}
}

func TestNodePartitionHealsWithNothingLostOrTwice(t *testing.T) {
	nodes := staticMesh(t, 3, [][]int{{1}, {2}}) // a - b - c
	a, b, c := nodes[0], nodes[1], nodes[2]
	subA, subB, subC := a.Subscribe(CodeGossip), b.Subscribe(CodeMarket), c.Subscribe(CodeGossip)
	a.srv.RemovePeer(b.Enode()) // cut a - b: no longer static, so not redialled
	eventually(t, 10*time.Second, "a - b link still up", func() bool { return a.PeerCount() == 0 && b.PeerCount() == 1 })
	for i := range 30 {
		if err := a.Send(b.Self(), CodeMarket, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Broadcast(CodeGossip, []byte("from a")); err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(CodeGossip, []byte("from c")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	// Heal from b's side: devp2p does not redial a node it dialled within the last 35 s.
	b.AddPeer(a.Enode())
	for i := range 30 {
		select {
		case m := <-subB.C():
			if m.Payload[0] != byte(i) {
				t.Fatalf("b got message %d as %d", i, m.Payload[0])
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("queued message %d lost", i)
		}
	}
	for who, sub := range map[string]Subscription{"a": subA, "c": subC} {
		select {
		case m := <-sub.C():
			if want := map[string]string{"a": "from c", "c": "from a"}[who]; string(m.Payload) != want {
				t.Fatalf("%s got %q, want %q", who, m.Payload, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never got the other side's broadcast", who)
		}
	}
	time.Sleep(200 * time.Millisecond)
	for who, sub := range map[string]Subscription{"a": subA, "b": subB, "c": subC} {
		select {
		case m := <-sub.C():
			t.Fatalf("%s got an extra message %+v", who, m)
		default:
		}
	}
}

func TestNodePeerLimitAdmitsOnlyTrustedBeyondIt(t *testing.T) {
	trusted := startNode(t, SeededKey(13, 1), "127.0.0.1:0", nil)
	x := startNode(t, SeededKey(13, 0), "127.0.0.1:0", func(c *NodeConfig) {
		c.MaxPeers = 2 // devp2p keeps a third (at least one) for dialling out: one inbound slot
		c.Trusted = []*enode.Node{trusted.Enode()}
	})
	first := startNode(t, SeededKey(13, 2), "127.0.0.1:0", nil)
	first.AddPeer(x.Enode())
	eventually(t, 10*time.Second, "first peer not admitted", func() bool { return x.PeerCount() == 1 })
	stranger := startNode(t, SeededKey(13, 3), "127.0.0.1:0", nil)
	stranger.AddPeer(x.Enode())
	trusted.AddPeer(x.Enode())
	eventually(t, 10*time.Second, "trusted peer not admitted over the limit", func() bool { return x.PeerCount() == 2 })
	time.Sleep(300 * time.Millisecond)
	if x.PeerCount() != 2 || stranger.PeerCount() != 0 {
		t.Fatalf("one inbound slot: %d peers, the untrusted third has %d", x.PeerCount(), stranger.PeerCount())
	}
}

// The version and capabilities a peer announced in its handshake are kept in its PeerInfo.
func TestNodePeerInfoShowsHandshakeCapabilities(t *testing.T) {
	a := startNode(t, SeededKey(32, 0), "127.0.0.1:0", func(c *NodeConfig) { c.Capabilities = []string{"ledger"} })
	b := startNode(t, SeededKey(32, 1), "127.0.0.1:0", func(c *NodeConfig) { c.Capabilities = []string{"market", "telemetry"} })
	b.AddPeer(a.Enode())
	eventually(t, 10*time.Second, "a link with the handshake's capabilities", func() bool {
		for _, p := range a.Peers() {
			if p.Address == b.Self() && p.Connected {
				return p.Version == ProtocolVersion && strings.Join(p.Capabilities, ",") == "market,telemetry"
			}
		}
		return false
	})
}
