package telemetry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/fractals-energy/fractals/fractals"
)

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no %s", name)
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

// TestMetricsParseAndMatchTheStatus scrapes /metrics, parses it with the Prometheus text parser and
// compares it with the unit's status, through a grid outage (a trip and two transitions).
func TestMetricsParseAndMatchTheStatus(t *testing.T) {
	d, clk := simDaemon(t)
	m := NewMetrics()
	d.AddObserver(m)
	d.Mount("GET /metrics", m.Handler())
	tick(d, clk, 20)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	fams := scrape(t, srv.URL+"/metrics")
	st := d.Unit().Status()
	if got := value(t, fams, "fractals_cycle_duration_seconds"); got != 20 {
		t.Fatalf("histogram count %v, want 20", got)
	}
	if got := value(t, fams, "fractals_energy_wh_total", "counter", "pv"); got != float64(st.Energy.PV) {
		t.Fatalf("pv energy %v, status %v", got, st.Energy.PV)
	}
	if got := value(t, fams, "fractals_reading", "reading", "soc"); got != float64(st.Snapshot.SoC.Value) {
		t.Fatalf("soc %v, status %v", got, st.Snapshot.SoC.Value)
	}
	if got := value(t, fams, "fractals_reading_good", "reading", "pv_power_w", "quality", "good"); got != 1 {
		t.Fatalf("pv quality gauge %v", got)
	}
	if got := value(t, fams, "fractals_cycles_total"); got != 20 {
		t.Fatalf("cycles %v", got)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Fatal("no Go runtime metrics")
	}
}

func TestMetricsCountTripsAndTransitions(t *testing.T) {
	m := NewMetrics()
	d, clk := simDaemon(t)
	d.AddObserver(m)
	tick(d, clk, 2)
	st := d.Unit().Status()
	// Feed the metrics a status in which protection islanded the unit, as Step reports it.
	island := st
	island.Snapshot.At = st.Snapshot.At.Add(time.Second)
	island.State.Mode = fractals.Islanded
	island.Events = append(island.Events, fractals.Event{At: island.Snapshot.At, Kind: "islanded"})
	m.Observe(&island, time.Millisecond)
	m.Observe(&island, time.Millisecond) // the event is still in the recent list: not counted again
	back := island
	back.Snapshot.At = island.Snapshot.At.Add(time.Second)
	back.State.Mode = fractals.Connected
	m.Observe(&back, time.Millisecond)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	fams := scrape(t, srv.URL)
	if got := value(t, fams, "fractals_protection_trips_total"); got != 1 {
		t.Fatalf("trips %v, want 1", got)
	}
	if got := value(t, fams, "fractals_island_transitions_total", "to", "islanded"); got != 1 {
		t.Fatalf("to islanded %v", got)
	}
	if got := value(t, fams, "fractals_island_transitions_total", "to", "connected"); got != 1 {
		t.Fatalf("to connected %v", got)
	}
}

// TestPrometheusScrapesMetrics runs a real Prometheus against the unit's /metrics and asks it, through
// its query API, for what it scraped.
func TestPrometheusScrapesMetrics(t *testing.T) {
	bin := peer(t, "prometheus", "apt-get install -y prometheus")
	d, clk := simDaemon(t)
	m := NewMetrics()
	d.AddObserver(m)
	d.Mount("GET /metrics", m.Handler())
	tick(d, clk, 5)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	target := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: fractals\n    static_configs:\n      - targets: ['%s']\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(freePort(t))
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+port, "--log.level=warn")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	want := float64(d.Unit().Status().Cycles)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		resp, err := http.Get("http://127.0.0.1:" + port + "/api/v1/query?query=" + url.QueryEscape(`fractals_cycles_total{job="fractals"}`))
		if err != nil {
			continue
		}
		var out struct {
			Data struct {
				Result []struct {
					Value []any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || len(out.Data.Result) == 0 {
			continue
		}
		got, _ := strconv.ParseFloat(out.Data.Result[0].Value[1].(string), 64)
		if got != want {
			t.Fatalf("prometheus has fractals_cycles_total %v, unit %v", got, want)
		}
		return
	}
	t.Fatal("prometheus did not scrape the unit within 20 s")
}
