package firmware

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

// BenchmarkUnitMarket50Devp2p is one market interval of 50 simulated units, each with its own devp2p
// node on loopback, linked along a binary tree (one to three neighbours each), over a 6-hour horizon
// of quarter-hour periods. It reports the peers' iterations and the messages each unit sent per
// interval by its number of neighbours.
func BenchmarkUnitMarket50Devp2p(b *testing.B) {
	const n = 50
	nodes, hops, err := StartLoopbackTree(n, "fractals-market-bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, nd := range nodes {
			nd.Close()
		}
	})
	degree := make([]int, n)
	for i := 1; i < n; i++ {
		degree[i]++
		degree[parent(i)]++
	}
	waitForPeers(b, nodes, degree)
	_, markets := marketsOn(b, nodes, 6*time.Hour, hops)
	start := time.Now().Truncate(15 * time.Minute)
	byDegree := map[int][]int{}
	var iterations, converged int
	b.ResetTimer()
	for i := range b.N {
		results := clearTogether(b, markets, start.Add(time.Duration(i)*15*time.Minute))
		checkMirrored(b, results)
		for j, m := range markets {
			r := results[m.ID()]
			iterations = max(iterations, r.Iterations)
			if r.Converged {
				converged++
			}
			byDegree[degree[j]] = append(byDegree[degree[j]], r.MessagesSent)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(iterations), "max-iterations")
	b.ReportMetric(float64(converged)/float64(b.N*n), "converged-fraction")
	var degrees []int
	for d := range byDegree {
		degrees = append(degrees, d)
	}
	sort.Ints(degrees)
	for _, d := range degrees {
		sum := 0
		for _, m := range byDegree[d] {
			sum += m
		}
		mean := float64(sum) / float64(len(byDegree[d]))
		b.ReportMetric(mean, fmt.Sprintf("msgs/unit/interval@%dnb", d))
	}
}
