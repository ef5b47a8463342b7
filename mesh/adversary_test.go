package mesh

import (
	"testing"
	"time"
)

// adversaryCommunity: honest nodes 0-1-2 in a line, the attacker (3) linked to node 1.
func adversaryCommunity(t *testing.T) (*community, *MemNode) {
	c := newCommunity(t, 4, [][]int{{1}, {2, 3}}, LinkProfile{Latency: time.Millisecond}, 11)
	return c, c.nodes[3]
}

func (c *community) score(of, peer int) (int, bool) {
	for _, p := range c.nodes[of].Peers() {
		if p.Address == c.nodes[peer].Self() {
			return p.Score, p.Connected
		}
	}
	return 0, false
}

// honestSeesOnly checks what the honest nodes other than the author (-1: none) received.
func (c *community) honestSeesOnly(t *testing.T, author int, want ...string) {
	t.Helper()
	got := c.drain()
	for i := range 3 {
		if i == author {
			continue
		}
		if len(got[i]) != len(want) {
			t.Fatalf("honest node %d got %d messages, want %v: %v", i, len(got[i]), want, got[i])
		}
		for j, m := range got[i] {
			if string(m.Payload) != want[j] {
				t.Fatalf("honest node %d message %d = %q, want %q", i, j, m.Payload, want[j])
			}
		}
	}
}

func TestAdversaryForgedAuthorIsScoredAndNotDelivered(t *testing.T) {
	c, m := adversaryCommunity(t)
	victim := c.nodes[0].Self()
	for i := range 3 {
		e := &Envelope{Code: CodeGossip, Community: "test-community", Seq: uint64(i), ExpiryMs: uint64(c.clk.Now().Add(time.Minute).UnixMilli()), Payload: []byte("forged")}
		if err := e.Sign(m.key); err != nil {
			t.Fatal(err)
		}
		e.Author = victim // claims node 0 wrote it
		c.net.Inject(m.Self(), c.nodes[1].Self(), e.Encode())
	}
	c.net.Settle(c.clk.Now().Add(time.Second))
	if s, up := c.score(1, 3); up || s > -100 {
		t.Fatalf("forger score %d connected %v, want disconnected at -100 or below", s, up)
	}
	c.honestSeesOnly(t, -1)
}

func TestAdversaryReplayIsDropped(t *testing.T) {
	c, m := adversaryCommunity(t)
	// The attacker replays node 0's broadcast, exactly as it was signed.
	if err := c.nodes[0].Broadcast(CodeGossip, []byte("real")); err != nil {
		t.Fatal(err)
	}
	c.net.Settle(c.clk.Now().Add(time.Second))
	c.honestSeesOnly(t, 0, "real")
	raw := c.nodes[0].recentRaw(t)
	for range 5 {
		c.net.Inject(m.Self(), c.nodes[1].Self(), raw)
	}
	c.net.Settle(c.clk.Now().Add(time.Second))
	c.honestSeesOnly(t, -1)
	if s, up := c.score(1, 3); !up || s < 0 {
		t.Fatalf("replays should cost nothing (gossip makes them): score %d connected %v", s, up)
	}
	// An expired envelope is dropped too.
	c.clk.Advance(time.Hour)
	c.net.Inject(m.Self(), c.nodes[1].Self(), raw)
	c.net.Settle(c.clk.Now().Add(time.Second))
	c.honestSeesOnly(t, -1)
}

func (n *MemNode) recentRaw(t *testing.T) []byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.recent) == 0 {
		t.Fatal("nothing broadcast")
	}
	return n.recent[len(n.recent)-1].raw
}

func TestAdversaryOversizedMalformedAndStrangerDisconnect(t *testing.T) {
	for name, raw := range map[string]func(*MemNode, time.Time) []byte{
		"oversized": func(m *MemNode, now time.Time) []byte {
			e := &Envelope{Code: CodeTelemetry, Community: "test-community", Seq: 1, ExpiryMs: uint64(now.Add(time.Minute).UnixMilli()), Payload: make([]byte, 9<<10)}
			_ = e.Sign(m.key)
			return e.Encode()
		},
		"malformed": func(*MemNode, time.Time) []byte { return []byte{0xf8, 0x05, 1, 2} },
		"stranger": func(m *MemNode, now time.Time) []byte {
			e := &Envelope{Code: CodeGossip, Community: "other", Seq: 1, ExpiryMs: uint64(now.Add(time.Minute).UnixMilli()), Payload: []byte("hi")}
			_ = e.Sign(m.key)
			return e.Encode()
		},
	} {
		t.Run(name, func(t *testing.T) {
			c, m := adversaryCommunity(t)
			for range 5 {
				c.net.Inject(m.Self(), c.nodes[1].Self(), raw(m, c.clk.Now()))
			}
			c.net.Settle(c.clk.Now().Add(time.Second))
			if s, up := c.score(1, 3); up {
				t.Fatalf("still connected with score %d", s)
			}
			if err := c.nodes[0].Broadcast(CodeGossip, []byte("after")); err != nil {
				t.Fatal(err)
			}
			c.net.Settle(c.clk.Now().Add(time.Second))
			got := c.drain()
			for i := 1; i < 3; i++ {
				if len(got[i]) != 1 || string(got[i][0].Payload) != "after" {
					t.Fatalf("honest node %d: %v", i, got[i])
				}
			}
		})
	}
}

func TestAdversaryFloodIsCutOffAndHonestTrafficFlows(t *testing.T) {
	c, m := adversaryCommunity(t)
	// An attacker does not run our router, which would pace it: it writes straight onto the link.
	for i := range 3000 { // at one instant: over the burst of 2,000
		e := &Envelope{Code: CodeTelemetry, Community: "test-community", Seq: uint64(i + 1), ExpiryMs: uint64(c.clk.Now().Add(time.Minute).UnixMilli()), Payload: []byte{byte(i)}}
		if err := e.Sign(m.key); err != nil {
			t.Fatal(err)
		}
		c.net.Inject(m.Self(), c.nodes[1].Self(), e.Encode())
	}
	c.net.Settle(c.clk.Now().Add(time.Second))
	if s, up := c.score(1, 3); up {
		t.Fatalf("flooder still connected, score %d", s)
	}
	if err := c.nodes[2].Broadcast(CodeGossip, []byte("honest")); err != nil {
		t.Fatal(err)
	}
	c.net.Settle(c.clk.Now().Add(time.Second))
	c.honestSeesOnly(t, 2, "honest")
	if st := c.nodes[1].Stats(); st.Delivered > 2100 {
		t.Fatalf("node 1 delivered %d of the flood, want at most the burst", st.Delivered)
	}
}
