package ledger

import (
	"context"
	"testing"
)

// BenchmarkDirectTransfers runs two durable nodes over loopback TCP (see RunBench) with 12
// payments in flight and reports throughput and latency percentiles. Target: ≥ 5,000
// transfers/s with p99 < 5 ms.
func BenchmarkDirectTransfers(b *testing.B) { benchHops(b, 1, 20000, 12) }

// BenchmarkMediatedTransfers3Hops runs A→B→C→D hash-locked transfers, 4 in flight. Target:
// p99 < 20 ms.
func BenchmarkMediatedTransfers3Hops(b *testing.B) { benchHops(b, 3, 2000, 4) }

func benchHops(b *testing.B, hops, transfers, inFlight int) {
	for b.Loop() {
		r, err := RunBench(context.Background(), BenchConfig{Transfers: transfers, Hops: hops, InFlight: inFlight, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.TPS, "transfers/s")
		b.ReportMetric(r.P50ms, "p50_ms")
		b.ReportMetric(r.P99ms, "p99_ms")
		b.ReportMetric(r.SignVerifyUs, "sign+verify_us")
		b.ReportMetric(float64(r.Transfers)/float64(r.Commits), "transfers/commit")
	}
}
