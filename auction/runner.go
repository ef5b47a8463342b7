package auction

import (
	"fmt"
	"time"
)

// ConsensusRun is one interval of a community cleared by its consensus peers in one process.
type ConsensusRun struct {
	// Welfare is the sum of the units' shares (agents' benefit minus cost minus network charges).
	Welfare float64 `json:"welfare"`
	// Iterations is the most iterations any peer ran; MaxImbalanceW the largest unit imbalance, in W.
	Iterations    int     `json:"iterations"`
	MaxImbalanceW float64 `json:"max_imbalance_w"`
	Converged     bool    `json:"converged"`
	// Messages is the number of market messages, MessagesPerUnitIteration the mean per unit and
	// iteration, MeanNeighbours the mean neighbour count it grows with.
	Messages                 int     `json:"messages"`
	MessagesPerUnitIteration float64 `json:"messages_per_unit_iteration"`
	MeanNeighbours           float64 `json:"mean_neighbours"`
	// Bytes is the total payload size of the messages.
	Bytes   int                        `json:"bytes"`
	Results map[string]*IntervalResult `json:"results"`
}

// RunConsensus clears c by running one ConsensusPeer per unit and handing every message to its
// receiver in the order sent (a lossless mesh with no delay), with Hops the number of units. It is how
// `fractals auction solve --method consensus` re-solves a dumped interval, and what the benchmarks time.
// tune, when not nil, adjusts each peer's configuration before it starts.
func RunConsensus(c Community, tune func(*PeerConfig)) (ConsensusRun, error) {
	if err := c.Validate(); err != nil {
		return ConsensusRun{}, err
	}
	start := time.Unix(0, 0).UTC() // a synthetic instant: nothing here waits
	peers := make(map[string]*ConsensusPeer, len(c.Units))
	run := ConsensusRun{Results: map[string]*IntervalResult{}, Converged: true}
	var links int
	for _, u := range c.Units {
		cfg := PeerConfig{ID: u.ID, Periods: c.Periods, PeriodHours: c.PeriodHours, Agents: u.Agents,
			Neighbours: c.Neighbours(u.ID), Hops: len(c.Units), Start: start}
		links += len(cfg.Neighbours)
		if tune != nil {
			tune(&cfg)
		}
		p, err := NewConsensusPeer(cfg)
		if err != nil {
			return ConsensusRun{}, err
		}
		peers[u.ID] = p
	}
	type delivery struct {
		from string
		out  Outbound
	}
	var queue []delivery
	collect := func(id string) {
		rd := peers[id].Ready()
		if rd.Result != nil {
			run.Results[id] = rd.Result
		}
		for _, m := range rd.Messages {
			queue = append(queue, delivery{from: id, out: m})
			run.Messages++
			run.Bytes += len(m.Payload)
		}
	}
	for _, u := range c.Units {
		collect(u.ID)
	}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		p := peers[d.out.To]
		if p == nil {
			return ConsensusRun{}, fmt.Errorf("consensus: %s sent to unknown unit %s", d.from, d.out.To)
		}
		// Errors are a late message for a finished peer's old iteration: nothing to do.
		_ = p.Step(d.from, d.out.Payload, start)
		collect(d.out.To)
	}
	for _, u := range c.Units {
		r := run.Results[u.ID]
		if r == nil {
			return ConsensusRun{}, fmt.Errorf("consensus: unit %s did not finish (a message was lost)", u.ID)
		}
		run.Welfare += r.Welfare()
		run.Iterations = max(run.Iterations, r.Iterations)
		run.MaxImbalanceW = max(run.MaxImbalanceW, r.ImbalanceW)
		run.Converged = run.Converged && r.Converged
	}
	run.Welfare = positiveZero(run.Welfare)
	if run.Iterations > 0 {
		run.MessagesPerUnitIteration = float64(run.Messages) / float64(len(c.Units)*run.Iterations)
	}
	run.MeanNeighbours = float64(links) / float64(len(c.Units))
	return run, nil
}
