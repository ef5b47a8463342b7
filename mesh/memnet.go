package mesh

import (
	"container/heap"
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/internal/clock"
)

// LinkProfile is the behaviour of every in-memory link: a fixed latency, a uniform jitter on top and
// a probability that a message is lost.
type LinkProfile struct {
	Latency time.Duration
	Jitter  time.Duration
	Drop    float64 // 0..1
}

// MemNetwork is the mesh in one process for simulations: nodes with the same router as the devp2p
// node (signed envelopes, replay windows, gossip, store-and-forward, budgets), joined by links with
// latency, jitter and loss drawn from one seeded generator. Nothing moves until Deliver: there is no
// goroutine per node or per message, so a thousand units cost only their state, and a run is
// reproducible from its seed.
type MemNetwork struct {
	mu      sync.Mutex
	clk     *clock.Sim
	rng     *rand.Rand
	profile LinkProfile
	opt     Options
	nodes   map[Address]*MemNode
	links   map[[2]Address]bool
	events  eventHeap
	seq     uint64
	stats   NetStats
	retried time.Time // when unacknowledged direct envelopes were last sent again
}

// NetStats are the network's totals.
type NetStats struct {
	Sent      uint64 // messages handed to links
	Lost      uint64 // dropped by the loss profile or by a cut link
	Delivered uint64 // handed to the receiving node
	Bytes     uint64 // bytes handed to links
}

// NewMemNetwork returns an empty network on the simulated clock.
func NewMemNetwork(clk *clock.Sim, seed uint64, profile LinkProfile, opt Options) *MemNetwork {
	return &MemNetwork{clk: clk, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), profile: profile,
		opt: opt, nodes: map[Address]*MemNode{}, links: map[[2]Address]bool{}}
}

// SeededKey derives the i-th node key of a simulation from its seed, so addresses (and with them the
// order of every relay) are the same in every run.
func SeededKey(seed uint64, i int) *ecdsa.PrivateKey {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], seed)
	binary.BigEndian.PutUint64(b[8:], uint64(i))
	for n := uint64(0); ; n++ {
		k, err := crypto.ToECDSA(crypto.Keccak256([]byte("FRACTALS.mesh.simkey"), b[:], binary.BigEndian.AppendUint64(nil, n)))
		if err == nil {
			return k
		}
	}
}

// MemNode is one unit on a MemNetwork; it implements Mesh.
type MemNode struct {
	*router
	net *MemNetwork
}

// AddNode adds a unit with the given key and no links.
func (n *MemNetwork) AddNode(key *ecdsa.PrivateKey) *MemNode {
	node := &MemNode{router: newRouter(key, n.clk, n.opt), net: n}
	n.mu.Lock()
	n.nodes[node.self] = node
	n.mu.Unlock()
	return node
}

// Node returns the unit with the address, or nil.
func (n *MemNetwork) Node(a Address) *MemNode {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nodes[a]
}

// Restart replaces a unit by a fresh one with the same key and no memory (as after a power cycle),
// reconnected to the same neighbours.
func (n *MemNetwork) Restart(a Address) *MemNode {
	old := n.Node(a)
	neighbours := n.Neighbours(a)
	for _, b := range neighbours {
		n.Disconnect(a, b)
	}
	old.shutdown()
	fresh := n.AddNode(old.key)
	for _, b := range neighbours {
		_ = n.Connect(a, b)
	}
	return fresh
}

func linkKey(a, b Address) [2]Address {
	if a.Cmp(b) > 0 {
		a, b = b, a
	}
	return [2]Address{a, b}
}

// Connect joins two units. Both see a peer-up event and flush what they queued for each other.
func (n *MemNetwork) Connect(a, b Address) error {
	n.mu.Lock()
	na, nb := n.nodes[a], n.nodes[b]
	if na == nil || nb == nil || a == b {
		n.mu.Unlock()
		return fmt.Errorf("mesh: connect %s and %s: unknown node or self", a, b)
	}
	k := linkKey(a, b)
	if n.links[k] {
		n.mu.Unlock()
		return nil
	}
	n.links[k] = true
	n.mu.Unlock()
	rtt := 2 * n.profile.Latency
	na.peerUp(b, &memLink{n, a, b}, PeerInfo{Remote: "mem:" + b.Hex(), RTT: rtt})
	nb.peerUp(a, &memLink{n, b, a}, PeerInfo{Remote: "mem:" + a.Hex(), Inbound: true, RTT: rtt})
	return nil
}

// Disconnect cuts the link between two units; messages in flight on it are lost.
func (n *MemNetwork) Disconnect(a, b Address) {
	n.mu.Lock()
	k := linkKey(a, b)
	had := n.links[k]
	delete(n.links, k)
	na, nb := n.nodes[a], n.nodes[b]
	n.mu.Unlock()
	if had {
		na.peerDown(b)
		nb.peerDown(a)
	}
}

// Neighbours returns the units linked to a, sorted.
func (n *MemNetwork) Neighbours(a Address) []Address {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Address
	for k := range n.links {
		switch a {
		case k[0]:
			out = append(out, k[1])
		case k[1]:
			out = append(out, k[0])
		}
	}
	sortAddresses(out)
	return out
}

// Stats returns the network's totals.
func (n *MemNetwork) Stats() NetStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Pending returns how many messages are in flight.
func (n *MemNetwork) Pending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.events)
}

// Deliver hands over every message due up to until, in time order, moving the simulated clock to
// each delivery's time and finally to until. Messages sent during delivery that are due by until are
// delivered in the same call, and every resendAfter the units send again the direct envelopes whose
// acknowledgement did not come and what waited for a neighbour's budget. It returns the number
// delivered.
func (n *MemNetwork) Deliver(until time.Time) int {
	delivered := 0
	for {
		n.mu.Lock()
		haveEvent := len(n.events) > 0 && !n.events[0].at.After(until)
		retryAt := n.retried.Add(resendAfter)
		if retryAt.Before(n.clk.Now()) {
			retryAt = n.clk.Now()
		}
		retryDue := !retryAt.After(until) && (!haveEvent || retryAt.Before(n.events[0].at))
		n.mu.Unlock()
		if retryDue {
			if n.anyWaiting() {
				n.clk.AdvanceTo(retryAt)
				n.retryAll(retryAt)
				continue
			}
			n.mu.Lock()
			n.retried = retryAt // nothing waits: look again one period later
			n.mu.Unlock()
		}
		if !haveEvent {
			break
		}
		n.mu.Lock()
		ev := heap.Pop(&n.events).(event)
		alive := n.links[linkKey(ev.from, ev.to)]
		to := n.nodes[ev.to]
		if !alive {
			n.stats.Lost++
		} else if !ev.ack {
			n.stats.Delivered++
		}
		n.mu.Unlock()
		if ev.at.After(n.clk.Now()) {
			n.clk.AdvanceTo(ev.at)
		}
		if !alive {
			continue
		}
		if ev.ack {
			to.acked(ev.from, ev.seqAck)
			continue
		}
		delivered++
		if v := to.receive(ev.from, ev.raw); v.disconnect {
			n.Disconnect(ev.from, ev.to)
		}
	}
	if until.After(n.clk.Now()) {
		n.clk.AdvanceTo(until)
	}
	return delivered
}

// anyWaiting reports whether a unit has something to send again or later: direct envelopes not
// acknowledged, or envelopes held for a neighbour's budget.
func (n *MemNetwork) anyWaiting() bool {
	for _, node := range n.sortedNodes() {
		if node.waiting() {
			return true
		}
	}
	return false
}

func (n *MemNetwork) retryAll(at time.Time) {
	for _, node := range n.sortedNodes() {
		node.retry()
	}
	n.mu.Lock()
	n.retried = at
	n.mu.Unlock()
}

func (n *MemNetwork) sortedNodes() []*MemNode {
	n.mu.Lock()
	defer n.mu.Unlock()
	addrs := make([]Address, 0, len(n.nodes))
	for a := range n.nodes {
		addrs = append(addrs, a)
	}
	sortAddresses(addrs)
	out := make([]*MemNode, len(addrs))
	for i, a := range addrs {
		out[i] = n.nodes[a]
	}
	return out
}

// Settle delivers until nothing is in flight or waiting for an acknowledgement, or the clock passes
// limit, and returns the clock then.
func (n *MemNetwork) Settle(limit time.Time) time.Time {
	for {
		n.mu.Lock()
		var next time.Time
		if len(n.events) > 0 {
			next = n.events[0].at
		}
		n.mu.Unlock()
		if next.IsZero() {
			if !n.anyWaiting() {
				return n.clk.Now()
			}
			next = n.clk.Now().Add(resendAfter)
		}
		if next.After(limit) {
			return n.clk.Now()
		}
		n.Deliver(next)
	}
}

type memLink struct {
	net      *MemNetwork
	from, to Address
}

func (l *memLink) send(_ Code, raw []byte, _ bool) bool {
	n := l.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.links[linkKey(l.from, l.to)] {
		return false
	}
	n.stats.Sent++
	n.stats.Bytes += uint64(len(raw))
	if n.profile.Drop > 0 && n.rng.Float64() < n.profile.Drop {
		n.stats.Lost++
		return true // lost on the air: the sender cannot tell
	}
	d := n.profile.Latency
	if n.profile.Jitter > 0 {
		d += time.Duration(n.rng.Int64N(int64(n.profile.Jitter)))
	}
	n.seq++
	heap.Push(&n.events, event{at: n.clk.Now().Add(d), seq: n.seq, from: l.from, to: l.to, raw: raw})
	return true
}

func (l *memLink) ack(seq uint64) {
	n := l.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.links[linkKey(l.from, l.to)] {
		return
	}
	if n.profile.Drop > 0 && n.rng.Float64() < n.profile.Drop {
		return
	}
	d := n.profile.Latency
	if n.profile.Jitter > 0 {
		d += time.Duration(n.rng.Int64N(int64(n.profile.Jitter)))
	}
	n.seq++
	heap.Push(&n.events, event{at: n.clk.Now().Add(d), seq: n.seq, from: l.from, to: l.to, ack: true, seqAck: seq})
}

type event struct {
	at       time.Time
	seq      uint64
	from, to Address
	raw      []byte
	ack      bool // an acknowledgement of direct envelope seqAck instead of raw
	seqAck   uint64
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// RingWithChords returns neighbour lists for n units: each linked to its k nearest on a ring (k
// even) plus chords random links per unit drawn from seed, so the community is connected and its
// diameter grows like log n while each unit keeps a handful of neighbours.
func RingWithChords(n, k, chords int, seed uint64) [][]int {
	rng := rand.New(rand.NewPCG(seed, 7))
	set := make([]map[int]bool, n)
	for i := range set {
		set[i] = map[int]bool{}
	}
	add := func(a, b int) {
		if a != b {
			set[a][b], set[b][a] = true, true
		}
	}
	for i := range n {
		for d := 1; d <= k/2; d++ {
			add(i, (i+d)%n)
		}
		for range chords {
			add(i, rng.IntN(n))
		}
	}
	out := make([][]int, n)
	for i, s := range set {
		for j := range s {
			out[i] = append(out[i], j)
		}
		sortInts(out[i])
	}
	return out
}

// ConnectLists links nodes[i] to nodes[j] for every j in lists[i].
func (n *MemNetwork) ConnectLists(nodes []*MemNode, lists [][]int) error {
	for i, l := range lists {
		for _, j := range l {
			if j < 0 || j >= len(nodes) {
				return fmt.Errorf("mesh: neighbour list %d names node %d of %d", i, j, len(nodes))
			}
			if err := n.Connect(nodes[i].Self(), nodes[j].Self()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Inject puts raw bytes on the link from one unit to another as if the sender's node had written
// them, for tests of what a misbehaving peer can do. It reports false when there is no such link.
func (n *MemNetwork) Inject(from, to Address, raw []byte) bool {
	return (&memLink{n, from, to}).send(0, raw, false)
}
