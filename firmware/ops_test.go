package firmware

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHistoryKeepsTheLastSpanOldestFirst(t *testing.T) {
	d, clk := simDaemon(t)
	h := NewHistory(time.Minute, 10*time.Second) // 6 samples
	d.AddObserver(h)
	tick(d, clk, 100)
	got := h.Samples()
	if len(got) != 6 {
		t.Fatalf("%d samples, want 6", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].At.Sub(got[i-1].At) != 10*time.Second {
			t.Fatalf("samples %d,%d at %v, %v: want 10 s apart", i-1, i, got[i-1].At, got[i].At)
		}
	}
	st := d.Unit().Status()
	if last := got[len(got)-1]; st.Snapshot.At.Sub(last.At) >= 10*time.Second || last.SoC == nil || last.PV == nil {
		t.Fatalf("last sample %+v, status at %v", last, st.Snapshot.At)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/history", nil))
	var body struct {
		Interval float64         `json:"interval_s"`
		Samples  []HistorySample `json:"samples"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Interval != 10 || len(body.Samples) != 6 {
		t.Fatalf("served %s (%v)", rec.Body.String(), err)
	}
}

func TestDashboardAndRoutesAreServed(t *testing.T) {
	d, clk := simDaemon(t)
	d.Mount("GET /{$}", Dashboard())
	tick(d, clk, 2)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != 200 || !strings.Contains(b.String(), `id="pv-w"`) || strings.Contains(b.String(), "http://") && strings.Contains(b.String(), "<script src") {
		t.Fatalf("status %d, page %.200s", resp.StatusCode, b.String())
	}
	if r, _ := http.Get(srv.URL + "/nope"); r.StatusCode != 404 {
		t.Fatalf("/nope: %d", r.StatusCode)
	}
}

func TestSettingsValidateAndApplyBetweenCycles(t *testing.T) {
	d, clk := simDaemon(t)
	s := NewSettings(d.Unit())
	d.AddObserver(s)
	for _, bad := range []float64{-5, 4, 95, 120} {
		if err := s.SetReserve(bad); err == nil {
			t.Errorf("reserve %v %% accepted", bad)
		}
	}
	if err := s.SetReserve(35); err != nil {
		t.Fatal(err)
	}
	if s.Reserve() != 20 {
		t.Fatalf("applied before the cycle ended: %v", s.Reserve())
	}
	tick(d, clk, 1)
	if r := s.Reserve(); r < 34.99 || r > 35.01 || d.unit.cfg.Reserve != 0.35 {
		t.Fatalf("reserve %v %%, controller %v", r, d.unit.cfg.Reserve)
	}
}

// TestWatchdogNotifiesThroughARealSocket plays systemd: a unixgram socket in NOTIFY_SOCKET and a
// watchdog period in WATCHDOG_USEC.
func TestWatchdogNotifiesThroughARealSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000") // 200 ms: a ping at least every 100 ms
	d, clk := simDaemon(t)
	w := NewWatchdog()
	d.AddObserver(w)
	read := func() string {
		buf := make([]byte, 256)
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
	tick(d, clk, 1)
	if got := read(); got != "READY=1" {
		t.Fatalf("first message %q", got)
	}
	if got := read(); got != "WATCHDOG=1" {
		t.Fatalf("second message %q", got)
	}
	time.Sleep(120 * time.Millisecond)
	tick(d, clk, 1)
	if got := read(); got != "WATCHDOG=1" {
		t.Fatalf("after a period: %q", got)
	}
	tick(d, clk, 1) // at once: no ping yet
	_ = conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := conn.Read(make([]byte, 64)); err == nil {
		t.Fatalf("ping %d bytes inside the period", n)
	}
	d.StopObservers()
	if got := read(); got != "STOPPING=1" {
		t.Fatalf("on stop: %q", got)
	}
}
