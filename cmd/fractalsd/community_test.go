package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/fractals-energy/fractals/firmware"
)

// TestCommunityOfThreeServesItsAPIsAndMeshes: `fractalsd --community 3` (make run) runs three units,
// each API answers on its own listener, and every unit's devp2p node is connected to the other two.
func TestCommunityOfThreeServesItsAPIsAndMeshes(t *testing.T) {
	var listeners []net.Listener
	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners = append(listeners, ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runCommunity(ctx, firmware.DefaultSimOptions(), listeners, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	deadline := time.Now().Add(15 * time.Second)
	for i, ln := range listeners {
		base := "http://" + ln.Addr().String()
		for {
			var st firmware.MeshStatus
			errStatus := getJSON(base+"/api/status", &map[string]any{})
			errMesh := getJSON(base+"/api/mesh", &st)
			if errStatus == nil && errMesh == nil && len(st.Peers) == 2 && st.Community == communityMesh {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("unit %d: status %v, mesh %v, %d peers: want both APIs and 2 peers", i, errStatus, errMesh, len(st.Peers))
			}
			time.Sleep(100 * time.Millisecond)
		}
		checkDashboardAndMetrics(t, i, base)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// checkDashboardAndMetrics: the unit serves the dashboard page and Prometheus metrics that parse and
// carry its cycles and its mesh peers.
func checkDashboardAndMetrics(t *testing.T, i int, base string) {
	t.Helper()
	page, err := get(base + "/")
	if err != nil || !strings.Contains(page, "<html") {
		t.Fatalf("unit %d: GET /: %v (%d bytes), want the dashboard", i, err, len(page))
	}
	text, err := get(base + "/metrics")
	if err != nil {
		t.Fatalf("unit %d: GET /metrics: %v", i, err)
	}
	families, err := new(expfmt.TextParser).TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("unit %d: /metrics does not parse: %v", i, err)
	}
	for _, name := range []string{"fractals_cycles_total", "fractals_mesh_peers"} {
		if families[name] == nil {
			t.Errorf("unit %d: /metrics has no %s", i, name)
		}
	}
}

func get(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), err
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
