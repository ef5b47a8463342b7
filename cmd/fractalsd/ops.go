package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/firmware/telemetry"
	"github.com/fractals-energy/fractals/internal/clock"
)

// opsFlags are the operations flags: state, telemetry, configuration check and the footprint run.
type opsFlags struct {
	dataDir     string
	telemetry   string
	checkConfig string
	footprint   time.Duration
}

// version is set at link time (-ldflags "-X main.version=..."); it names the unit in Home Assistant.
var version = "dev"

// checkConfig validates a unit file (or an operations file with --telemetry) without opening any
// device, and says what it found.
func checkConfig(path string, stdout, stderr io.Writer) int {
	u, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "fractalsd: %v\n", err)
		return 1
	}
	cc := firmware.ControllerConfig(u)
	if err := cc.Validate(); err != nil {
		fmt.Fprintf(stderr, "fractalsd: %s: site: %v\n", path, err)
		return 1
	}
	if u.Channels != nil {
		if err := firmware.CheckChainAvailable(u.Chain.Backend); err != nil {
			fmt.Fprintf(stderr, "fractalsd: %s: %v\n", path, err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "%s: ok: unit %q, %d devices, cycle %v, data_dir %q, telemetry %s\n", path, u.Name,
		len(u.Devices), u.Cycle, u.DataDir, describeTelemetry(u.Telemetry))
	return 0
}

func describeTelemetry(t *config.Telemetry) string {
	if t == nil {
		return "defaults (dashboard, /metrics)"
	}
	var parts []string
	if t.Influx != nil {
		parts = append(parts, "influx "+t.Influx.URL)
	}
	if t.MQTT != nil {
		parts = append(parts, "mqtt "+t.MQTT.Broker)
	}
	if t.Prometheus == nil || *t.Prometheus {
		parts = append(parts, "/metrics")
	}
	return strings.Join(parts, ", ")
}

// setupOps reads the operations settings for the daemon: from the unit file with --config, else from
// --telemetry; --data-dir overrides data_dir.
func setupOps(f opsFlags, unitFile *config.Unit, log *slog.Logger) (telemetry.Setup, error) {
	s := telemetry.Setup{UnitName: "meshbox-sim", Version: version, Log: log}
	if unitFile != nil {
		s.UnitName, s.DataDir, s.Telemetry = unitFile.Name, unitFile.DataDir, unitFile.Telemetry
	}
	if f.telemetry != "" {
		o, err := config.LoadOperations(f.telemetry)
		if err != nil {
			return s, err
		}
		s.DataDir, s.Telemetry = o.DataDir, o.Telemetry
	}
	if f.dataDir != "" {
		s.DataDir = f.dataDir
	}
	return s, nil
}

// startCommunityOps gives unit i of `--community` what every daemon serves beside its API: the
// dashboard at /, /api/history, /api/telemetry and /metrics (the default telemetry; no state file,
// so the units start fresh each run).
func startCommunityOps(d *firmware.Daemon, i int, log *slog.Logger) (*telemetry.Ops, error) {
	return telemetry.Start(d, telemetry.Setup{UnitName: fmt.Sprintf("meshbox-sim-%d", i), Version: version, Log: log.With("unit", i)})
}

// footprint runs the simulated unit with everything the daemon runs beside it (its local mesh node,
// the HTTP API with the dashboard and /metrics, the operations reporters) for d of simulated time,
// as fast as the machine allows, fetching the dashboard's routes and /metrics once a simulated
// minute, and prints the process's resident memory at the end and its peak (VmHWM): the figures
// the unit's 40 MB budget is checked against.
func footprint(o firmware.SimOptions, f opsFlags, stdout, stderr io.Writer) int {
	start := time.Date(2026, 6, 21, 0, 0, 0, 0, time.UTC)
	clk := clock.NewSim(start)
	d, err := firmware.NewSimDaemon(o, clk, nil)
	if err != nil {
		fmt.Fprintf(stderr, "fractalsd: %v\n", err)
		return 2
	}
	node, err := firmware.StartMesh(nil, nil)
	if err != nil {
		fmt.Fprintf(stderr, "fractalsd: %v\n", err)
		return 1
	}
	defer node.Close()
	d.AttachMesh(node)
	setup, err := setupOps(f, nil, nil)
	if err != nil {
		fmt.Fprintf(stderr, "fractalsd: %v\n", err)
		return 2
	}
	ops, err := telemetry.Start(d, setup)
	if err != nil {
		fmt.Fprintf(stderr, "fractalsd: %v\n", err)
		return 1
	}
	api, err := serveLoopback(d.Handler())
	if err != nil {
		fmt.Fprintf(stderr, "fractalsd: %v\n", err)
		return 1
	}
	defer api.Close()
	began := time.Now()
	cycles := int(f.footprint / o.Step)
	ctx := context.Background()
	var fetchErr error
	perMinute := max(1, int(time.Minute/o.Step))
	for i := 0; i < cycles; i++ {
		clk.Advance(o.Step)
		d.Tick(ctx)
		for ops.Pending() > 0 { // let the reporters keep up, as they do at one cycle a second
			time.Sleep(50 * time.Microsecond)
		}
		if i%perMinute == 0 && fetchErr == nil {
			fetchErr = api.fetchAll("/", "/api/status", "/api/history", "/api/community", "/metrics")
		}
	}
	if fetchErr != nil {
		fmt.Fprintf(stderr, "fractalsd: footprint: %v\n", fetchErr)
		return 1
	}
	stats := ops.Stats()
	d.StopObservers()
	_ = ops.Close()
	runtime.GC()
	rss, peak := procStatusKB("VmRSS"), procStatusKB("VmHWM")
	fmt.Fprintf(stdout, "footprint: %d cycles (%v simulated) in %.1f s: rss %.1f MB, peak rss %.1f MB, go heap in use %.1f MB\n",
		cycles, f.footprint, time.Since(began).Seconds(), rss/1024, peak/1024, heapInUseMB())
	fmt.Fprintf(stdout, "footprint: rss now %.1f MB anonymous + %.1f MB file-backed (the binary's pages); go memory limit %.0f MiB\n",
		procStatusKB("RssAnon")/1024, procStatusKB("RssFile")/1024, float64(debug.SetMemoryLimit(-1))/(1<<20))
	if stats.Influx != nil {
		fmt.Fprintf(stdout, "footprint: influx points handed %d, written %d, dropped at the queue %d; mqtt states published %d\n",
			stats.Influx.Handed, stats.Influx.Written, stats.Influx.DroppedQueue, stats.MQTTPublished)
	}
	return 0
}

// loopbackAPI is the daemon's HTTP handler served on a free loopback port, with a client for it.
type loopbackAPI struct {
	srv  *http.Server
	base string
}

func serveLoopback(h http.Handler) (*loopbackAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &loopbackAPI{srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}, base: "http://" + ln.Addr().String()}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

// fetchAll GETs each path and reads its body, as the dashboard and a Prometheus scrape do.
func (a *loopbackAPI) fetchAll(paths ...string) error {
	for _, p := range paths {
		resp, err := http.Get(a.base + p)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", p, resp.Status)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *loopbackAPI) Close() error { return a.srv.Close() }

// procStatusKB reads a kB field of /proc/self/status (Linux); 0 elsewhere.
func procStatusKB(field string) float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return n
		}
	}
	return 0
}

func heapInUseMB() float64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// memoryLimit is the Go runtime's soft limit unless GOMEMLIMIT says otherwise: near it the collector
// works harder instead of letting the heap grow to twice what is live. The unit's 40 MB resident
// budget is about 18 MB of the binary's own pages (make footprint, stripped static build) plus what
// the runtime holds; the largest live part is the InfluxDB retry buffer during an outage (at most
// config.DefaultInfluxBuffer points, about 7 MB), which fits under 16 MiB with the daemon's few MB
// of its own. The collector then runs about once a minute instead of twice, a cost of well under
// 0.1 % of a core. 12 MiB would thrash once the buffer is full.
const memoryLimit = 16 << 20

func init() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
