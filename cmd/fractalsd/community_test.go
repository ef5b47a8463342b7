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
// each API answers on its own listener, every unit's devp2p node is connected to the other two, and
// their markets clear over that mesh: /api/market shows a converged interval with both neighbours, and
// the two sides of every trade agree.
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
	checkCommunityMarket(t, listeners, deadline.Add(time.Minute))
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

type marketView struct {
	ID   string                 `json:"id"`
	Last *firmware.MarketStatus `json:"last"`
}

// checkCommunityMarket waits until every unit's /api/market shows the same converged interval with
// two neighbours, and holds each trade to its partner's record.
func checkCommunityMarket(t *testing.T, listeners []net.Listener, deadline time.Time) {
	t.Helper()
	views := make([]marketView, len(listeners))
	for i, ln := range listeners {
		for {
			err := getJSON("http://"+ln.Addr().String()+"/api/market", &views[i])
			if err == nil && views[i].Last != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("unit %d: no market interval cleared (%v)", i, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if l := views[i].Last; !l.Converged || len(l.Neighbours) != 2 || l.Interval != views[0].Last.Interval {
			t.Fatalf("unit %d: market %+v, want interval %d converged with 2 neighbours", i, *l, views[0].Last.Interval)
		}
	}
	byID := map[string]*firmware.MarketStatus{}
	for _, v := range views {
		byID[v.ID] = v.Last
	}
	for _, v := range views {
		for _, tr := range v.Last.Trades {
			found := false
			for _, o := range byID[tr.Partner].Trades {
				if o.Partner == v.ID && o.Period == tr.Period {
					found = o.BuyW == -tr.BuyW && o.PricePerKWh == tr.PricePerKWh
				}
			}
			if !found {
				t.Fatalf("%s's trade %+v is not mirrored by %s", v.ID, tr, tr.Partner)
			}
		}
	}
	t.Logf("interval %d: unit 0 %d iterations in %v, trades %+v", views[0].Last.Interval, views[0].Last.Iterations, views[0].Last.Took, views[0].Last.Trades)
}
