package firmware

import (
	"fmt"
	"time"

	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/mesh"
)

// MeshSummary is what the community's mesh carried: today the signed meter readings, gossiped to the
// whole community after each period (the market still runs in-process).
type MeshSummary struct {
	Kind                       string  `json:"kind"` // memory
	Messages                   uint64  `json:"messages"`
	Bytes                      uint64  `json:"bytes"`
	Lost                       uint64  `json:"lost"`
	MessagesPerUnitPerInterval float64 `json:"messages_per_unit_per_interval"`
	BytesPerUnitPerInterval    float64 `json:"bytes_per_unit_per_interval"`
	// Missing counts readings a unit had not received when it settled; Refused the ones that did
	// not decode or came from another author than the unit they name.
	Missing int `json:"readings_missing"`
	Refused int `json:"readings_refused"`
	// Late counts readings of an earlier period that arrived after it was settled.
	Late int `json:"readings_late"`
}

// readingsMesh carries the signed readings over the in-memory mesh, on its own simulated clock kept
// at the units' time, with the units linked along the same binary tree as their payment channels.
type readingsMesh struct {
	clk   *clock.Sim
	net   *mesh.MemNetwork
	nodes []*mesh.MemNode
	subs  []mesh.Subscription
	unit  map[mesh.Address]string // mesh address → unit name
	sum   MeshSummary
	// seed made the units' mesh keys (mesh.SeededKey); community is the mesh's community name.
	seed      uint64
	community string
}

// simCommunity is the simulated community's mesh name.
const simCommunity = "fractals-sim"

// readingsWait is how long after a period's end a unit waits for its neighbours' readings.
const readingsWait = 30 * time.Second

func newReadingsMesh(start time.Time, names []string, seed uint64, profile mesh.LinkProfile) (*readingsMesh, error) {
	clk := clock.NewSim(start)
	m := &readingsMesh{clk: clk, net: mesh.NewMemNetwork(clk, seed, profile, mesh.DefaultOptions(simCommunity)), seed: seed, community: simCommunity,
		unit: map[mesh.Address]string{}, sum: MeshSummary{Kind: "memory"}}
	for i, name := range names {
		n := m.net.AddNode(mesh.SeededKey(seed, i))
		m.nodes = append(m.nodes, n)
		m.subs = append(m.subs, n.Subscribe(mesh.CodeTelemetry))
		m.unit[n.Self()] = name
	}
	for i := 1; i < len(m.nodes); i++ {
		if err := m.net.Connect(m.nodes[i].Self(), m.nodes[parent(i)].Self()); err != nil {
			return nil, fmt.Errorf("mesh: %w", err)
		}
	}
	return m, nil
}

// exchange gossips every unit's signed reading and returns, for each unit, the readings it received
// within readingsWait (its own left out).
func (m *readingsMesh) exchange(now time.Time, readings []fractals.SignedReading) [][]fractals.SignedReading {
	if now.After(m.clk.Now()) {
		m.clk.AdvanceTo(now)
	}
	for i, r := range readings {
		// A full queue or budget loses this reading; its neighbours will hold their trades with it.
		_ = m.nodes[i].Broadcast(mesh.CodeTelemetry, r.Marshal())
	}
	m.net.Deliver(m.clk.Now().Add(readingsWait))
	got := make([][]fractals.SignedReading, len(readings))
	for i, sub := range m.subs {
		seen := map[string]bool{}
	drain:
		for {
			select {
			case msg := <-sub.C():
				s, err := fractals.UnmarshalSignedReading(msg.Payload)
				if err != nil || m.unit[msg.From] != s.Reading.Unit {
					m.sum.Refused++
					continue
				}
				if len(readings) > 0 && s.Reading.Interval != readings[0].Reading.Interval {
					m.sum.Late++ // held back by a cut link and forwarded on healing: that period is settled
					continue
				}
				seen[s.Reading.Unit] = true
				got[i] = append(got[i], s)
			default:
				break drain
			}
		}
		m.sum.Missing += len(readings) - 1 - len(seen)
	}
	return got
}

// summary fills the per-unit, per-interval figures.
func (m *readingsMesh) summary(units, intervals int) *MeshSummary {
	st := m.net.Stats()
	s := m.sum
	s.Messages, s.Bytes, s.Lost = st.Sent, st.Bytes, st.Lost
	if units > 0 && intervals > 0 {
		s.MessagesPerUnitPerInterval = float64(st.Sent) / float64(units*intervals)
		s.BytesPerUnitPerInterval = float64(st.Bytes) / float64(units*intervals)
	}
	return &s
}

func (m *readingsMesh) close() {
	for _, s := range m.subs {
		s.Close()
	}
}
