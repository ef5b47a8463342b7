package telemetry

import (
	"strconv"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/firmware/config"
)

// BenchmarkCycle is one control cycle of the simulated unit (plant step, read, Step, write) with no
// telemetry: the baseline for the two below.
func BenchmarkCycle(b *testing.B) {
	d, clk := simDaemon(b)
	b.ReportAllocs()
	for b.Loop() {
		tick(d, clk, 1)
	}
}

// BenchmarkCycleInfluxDown is the same cycle with InfluxDB telemetry pointed at a port where nothing
// listens (the database is down) plus the Prometheus metrics: what the control loop pays is the
// hand-off to the writer's queue; everything else happens on the writer's goroutine.
func BenchmarkCycleInfluxDown(b *testing.B) {
	d, clk := simDaemon(b)
	ln := freePortB(b)
	in, err := NewInflux(InfluxOptions{URL: "http://127.0.0.1:" + strconv.Itoa(ln), Bucket: "fractals/autogen", Unit: "bench",
		BatchSize: 500, FlushInterval: time.Second, BufferPoints: config.DefaultInfluxBuffer})
	if err != nil {
		b.Fatal(err)
	}
	d.AddObserver(in)
	b.ReportAllocs()
	for b.Loop() {
		tick(d, clk, 1)
	}
	b.StopTimer()
	s := in.Stats()
	b.ReportMetric(float64(s.DroppedQueue)/float64(b.N), "dropped_points/cycle")
	d.StopObservers()
}

// BenchmarkObserveInfluxDown is the observer call alone, as the cycle pays it.
func BenchmarkObserveInfluxDown(b *testing.B) {
	d, clk := simDaemon(b)
	tick(d, clk, 1)
	st := d.Unit().Status()
	in, err := NewInflux(InfluxOptions{URL: "http://127.0.0.1:" + strconv.Itoa(freePortB(b)), Bucket: "fractals/autogen",
		Unit: "bench", BatchSize: 500, FlushInterval: time.Second, BufferPoints: config.DefaultInfluxBuffer})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		in.Observe(&st, time.Millisecond)
	}
	b.StopTimer()
	in.Stop()
}

// BenchmarkCycleMetrics is the cycle with the Prometheus metrics observing it.
func BenchmarkCycleMetrics(b *testing.B) {
	d, clk := simDaemon(b)
	d.AddObserver(NewMetrics())
	b.ReportAllocs()
	for b.Loop() {
		tick(d, clk, 1)
	}
}
