package firmware

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/clock"
)

func newTestDaemon(t testing.TB) (*Daemon, *clock.Sim) {
	t.Helper()
	clk := clock.NewSim(time.Date(2026, 6, 21, 0, 0, 0, 0, time.UTC))
	d, err := NewSimDaemon(DefaultSimOptions(), clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d, clk
}

func TestStatusAPIServesSnapshotCommandsAndEnergy(t *testing.T) {
	d, clk := newTestDaemon(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, ln) }()
	// Let the loop run ten minutes of simulated time, one tick at a time: advance the clock, then wait
	// for the loop to finish that cycle before the next.
	waitFor(t, func() bool { return d.Unit().Status().Cycles == 1 })
	for i := 2; i <= 600; i++ {
		clk.Advance(time.Second)
		waitFor(t, func() bool { return d.Unit().Status().Cycles == uint64(i) })
	}
	base := "http://" + ln.Addr().String()
	var st struct {
		Cycles   uint64                     `json:"cycles"`
		Snapshot map[string]json.RawMessage `json:"snapshot"`
		Commands map[string]json.RawMessage `json:"commands"`
		Desired  map[string]json.RawMessage `json:"desired"`
		Energy   map[string]float64         `json:"energy_wh"`
		State    struct{ Mode string }      `json:"state"`
	}
	waitFor(t, func() bool {
		getJSON(t, base+"/api/status", &st)
		return st.Cycles >= 600
	})
	for _, k := range []string{"pv_power", "soc", "grid_power", "grid_frequency", "loads", "ev_connected"} {
		if _, ok := st.Snapshot[k]; !ok {
			t.Errorf("snapshot lacks %s", k)
		}
	}
	for _, k := range []string{"pv_limit", "battery_power", "ev_power", "load_on", "pcc_closed"} {
		if _, ok := st.Commands[k]; !ok {
			t.Errorf("commands lack %s", k)
		}
		if _, ok := st.Desired[k]; !ok {
			t.Errorf("desired commands lack %s", k)
		}
	}
	if st.Energy["load"] <= 0 || st.State.Mode != "connected" {
		t.Errorf("after ten minutes: energy %v, mode %q", st.Energy, st.State.Mode)
	}
	if code := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("healthz %d while the loop runs", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v after cancel, want a clean stop", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("API still listening after stop")
	}
}

func TestHealthzReportsAStalledLoop(t *testing.T) {
	d, clk := newTestDaemon(t)
	d.Tick(context.Background())
	clk.Advance(10 * time.Second) // no ticks: the loop is stalled
	rec := &statusRecorder{header: http.Header{}}
	d.Handler().ServeHTTP(rec, mustRequest(t, "/healthz"))
	if rec.code != http.StatusServiceUnavailable {
		t.Fatalf("healthz %d for a stalled loop", rec.code)
	}
}

// The daemon's memory stays flat: a simulated week of 1 s cycles, heap measured after day 1 and day 7.
func TestDaemonMemoryFlatOverAWeek(t *testing.T) {
	if testing.Short() {
		t.Skip("a simulated week takes a few seconds")
	}
	d, clk := newTestDaemon(t)
	ctx := context.Background()
	day := func() {
		for i := 0; i < 86400; i++ {
			clk.Advance(time.Second)
			d.Tick(ctx)
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	day()
	after1 := heap()
	for i := 0; i < 6; i++ {
		day()
	}
	after7 := heap()
	t.Logf("heap after day 1: %d B, after day 7: %d B", after1, after7)
	if after7 > after1+64<<10 {
		t.Fatalf("heap grew %d B over six simulated days", after7-after1)
	}
	if c := d.Unit().Status().Cycles; c != 7*86400 {
		t.Fatalf("%d cycles, want a week of them", c)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		runtime.Gosched()
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %s %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func mustRequest(t *testing.T, path string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type statusRecorder struct {
	header http.Header
	code   int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(code int)        { r.code = code }
