package telemetry

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/fractals"
)

// TestMetricsDevicesAndIslandPhases: a planned island on the simulated unit counts its phase
// transitions; read errors are counted by the device they name; staleness is reported per device.
func TestMetricsDevicesAndIslandPhases(t *testing.T) {
	d, clk := simDaemon(t)
	m := NewMetrics()
	d.AddObserver(m)
	tick(d, clk, 2)
	d.Unit().RequestIsland(true)
	tick(d, clk, 5)
	if ph := d.Unit().Status().State.Island.Phase; ph != fractals.PhaseIslanded {
		t.Fatalf("planned island: phase %v", ph)
	}
	// A cycle whose meter read failed and whose battery reading went stale, as the device layer says it.
	st := d.Unit().Status()
	st.Snapshot.At = st.Snapshot.At.Add(time.Second)
	st.ReadErrors = []string{"meter.power 9.99999995904e+11 W outside -1e+06..1e+06", "battery: i/o timeout", "something odd"}
	st.Snapshot.SoC.Quality = fractals.Stale
	m.Observe(&st, time.Millisecond)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	fams := scrape(t, srv.URL)
	if got := value(t, fams, "fractals_island_phase_transitions_total", "from", "connected", "to", "opening"); got != 1 {
		t.Fatalf("connected→opening %v, want 1", got)
	}
	if got := value(t, fams, "fractals_island_phase_transitions_total", "from", "opening", "to", "islanded"); got != 1 {
		t.Fatalf("opening→islanded %v, want 1", got)
	}
	if got := value(t, fams, "fractals_island_phase", "phase", "islanded"); got != 1 {
		t.Fatalf("phase gauge %v", got)
	}
	for dev, want := range map[string]float64{"meter": 1, "battery": 1, "unknown": 1} {
		if got := value(t, fams, "fractals_device_read_errors_total", "device", dev); got != want {
			t.Fatalf("%s read errors %v, want %v", dev, got, want)
		}
	}
	if got := value(t, fams, "fractals_device_stale", "device", "battery"); got != 1 {
		t.Fatalf("battery stale %v, want 1", got)
	}
	if got := value(t, fams, "fractals_device_stale", "device", "pv"); got != 0 {
		t.Fatalf("pv stale %v, want 0", got)
	}
	if got := value(t, fams, "fractals_device_age_seconds", "device", "pv"); got != 1 {
		t.Fatalf("pv age %v, want 1 (the status above is a second after its last read)", got)
	}
}

// TestMetricsMesh attaches a real devp2p node linked to a second one on loopback and finds the peer
// and its message counters in /metrics as /api/mesh reports them.
func TestMetricsMesh(t *testing.T) {
	nodes, err := firmware.StartLoopbackCommunity(2, "metrics-test")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	d, clk := simDaemon(t)
	d.AttachMesh(nodes[1])
	m := NewMetrics()
	m.AttachDaemon(d)
	d.AddObserver(m)
	tick(d, clk, 1)
	waitFor(t, "the mesh peer", func() bool {
		ms, _ := d.MeshView()
		return len(ms.Peers) == 1 && ms.Peers[0].Connected
	})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	fams := scrape(t, srv.URL)
	if got := value(t, fams, "fractals_mesh_peers", "connected", "true"); got != 1 {
		t.Fatalf("connected peers %v, want 1", got)
	}
	ms, _ := d.MeshView()
	if got := value(t, fams, "fractals_mesh_peer_bytes_total", "direction", "in"); got > float64(ms.Peers[0].BytesIn) {
		t.Fatalf("bytes in %v, more than the node says after the scrape (%d)", got, ms.Peers[0].BytesIn)
	}
	value(t, fams, "fractals_mesh_peer_messages_total", "direction", "out")
	value(t, fams, "fractals_mesh_router_messages_total", "counter", "delivered")
	if _, ok := fams["fractals_ledger_channels"]; ok {
		t.Fatal("ledger figures without a ledger")
	}
}
