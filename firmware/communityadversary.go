package firmware

import (
	"github.com/fractals-energy/fractals/mesh"
)

// Adversary is a unit of a consensus community that trades like the others and, besides, attacks the
// market over the mesh at every step of every negotiation.
type Adversary struct {
	Unit int
	// Forge sends its neighbours market envelopes that name another unit as their author (signed with
	// its own key: it has no other).
	Forge bool
	// Replay sends its neighbours, validly signed, the bids it sent them in the previous interval.
	Replay bool
	// Flood sends each neighbour floodPerStep copies of its latest bid per step.
	Flood bool
}

// floodPerStep is how many extra messages a flooding adversary sends each neighbour per 5 ms step.
const floodPerStep = 20

// forgedTTL is how long a forged envelope claims to live, inside the mesh's limits.
const forgedTTL = 30 * 60 * 1000

// attack makes the adversary's moves of one step.
func (c *consensusMarket) attack() {
	a := c.adversary
	self := c.m.nodes[a.Unit]
	key := mesh.SeededKey(c.m.seed, a.Unit)
	for _, nb := range c.m.net.Neighbours(self.Self()) {
		j, ok := c.index[nb]
		if !ok {
			continue
		}
		name := c.names[j]
		if a.Forge {
			victim := c.m.nodes[(j+1)%len(c.m.nodes)].Self() // a unit that is not the receiver
			if victim == nb || victim == self.Self() {
				victim = c.m.nodes[(j+2)%len(c.m.nodes)].Self()
			}
			c.forgeSeq++
			e := mesh.Envelope{Code: mesh.CodeMarket, To: nb, Community: c.m.community, Seq: c.forgeSeq,
				ExpiryMs: uint64(c.m.clk.Now().UnixMilli()) + forgedTTL, Payload: c.replay[name]}
			if e.Payload == nil {
				e.Payload = []byte{1}
			}
			if e.Sign(key) == nil {
				e.Author = victim // the signature no longer matches: what a forger can do at best
				c.m.net.Inject(self.Self(), nb, e.Encode())
				c.attacks.Forged++
			}
		}
		if a.Replay && c.replay[name] != nil {
			if self.Send(nb, mesh.CodeMarket, c.replay[name]) == nil {
				c.attacks.Replayed++
			}
		}
		if a.Flood && c.nextReplay[name] != nil {
			for range floodPerStep {
				if self.Send(nb, mesh.CodeMarket, c.nextReplay[name]) == nil {
					c.attacks.Flooded++
				}
			}
		}
	}
}

// AttackSummary is what an adversary sent and what the honest units did with it.
type AttackSummary struct {
	Forged   int `json:"forged"`
	Replayed int `json:"replayed"`
	Flooded  int `json:"flooded"`
	// Refused is the market messages the honest peers refused (another interval, not a neighbour,
	// malformed); Rejected the envelopes the honest units' mesh nodes rejected (bad signature, over
	// budget); Disconnected whether the adversary's neighbours cut it off.
	Refused      int    `json:"refused_by_peers"`
	Rejected     uint64 `json:"rejected_by_mesh"`
	Disconnected bool   `json:"disconnected"`
}

// attackSummary counts what the honest units did with the attacks.
func (c *consensusMarket) attackSummary() *AttackSummary {
	if c.adversary == nil {
		return nil
	}
	s := c.attacks
	s.Refused = c.refused
	adv := c.m.nodes[c.adversary.Unit].Self()
	s.Disconnected = len(c.m.net.Neighbours(adv)) == 0
	for i, n := range c.m.nodes {
		if i != c.adversary.Unit {
			s.Rejected += n.Stats().Rejected
		}
	}
	return &s
}
