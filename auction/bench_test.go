package auction

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkConsensusInterval50 clears one interval of 50 units (4 hourly periods) on a ring and on a
// random geometric mesh, in process, and reports iterations and messages per unit and iteration
// against the mean neighbour count.
func BenchmarkConsensusInterval50(b *testing.B) {
	for i, name := range []string{"ring", "geometric"} {
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(50, uint64(i)))
			links := ringLinks(50)
			if name == "geometric" {
				links = geometricLinks(50, 0.12, rng)
			}
			c := testCommunity(50, 4, links, true, rng)
			var run ConsensusRun
			for b.Loop() {
				var err error
				if run, err = RunConsensus(c, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(run.Iterations), "iterations")
			b.ReportMetric(run.MessagesPerUnitIteration, "msgs/unit/iter")
			b.ReportMetric(run.MeanNeighbours, "neighbours")
			b.ReportMetric(float64(run.Bytes)/50, "bytes/unit")
		})
	}
}
