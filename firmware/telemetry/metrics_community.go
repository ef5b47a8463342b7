package telemetry

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fractals-energy/fractals/firmware"
)

var (
	descDeviceStale = prometheus.NewDesc("fractals_device_stale", "1 if any reading of the device was not read good in the last cycle.", []string{"device"}, nil)
	descDeviceAge   = prometheus.NewDesc("fractals_device_age_seconds", "Age of the device's oldest reading (time since it was last read good).", []string{"device"}, nil)
	descPhase       = prometheus.NewDesc("fractals_island_phase", "1 for the island state machine's current phase.", []string{"phase"}, nil)
	descSchedule    = prometheus.NewDesc("fractals_market_schedule_w", "The market's commitment for the current period (net exchange positive importing, EV).", []string{"quantity"}, nil)
	descMeshPeers   = prometheus.NewDesc("fractals_mesh_peers", "Mesh peers known, by connection.", []string{"connected"}, nil)
	descMeshMsgs    = prometheus.NewDesc("fractals_mesh_peer_messages_total", "Messages exchanged with the mesh peers, summed.", []string{"direction"}, nil)
	descMeshBytes   = prometheus.NewDesc("fractals_mesh_peer_bytes_total", "Bytes exchanged with the mesh peers, summed.", []string{"direction"}, nil)
	descMeshRouter  = prometheus.NewDesc("fractals_mesh_router_messages_total", "The mesh router's counters.", []string{"counter"}, nil)
	descChannels    = prometheus.NewDesc("fractals_ledger_channels", "Payment channels, by chain state.", []string{"state"}, nil)
	descPayments    = prometheus.NewDesc("fractals_ledger_payments_total", "Payments over the unit's channels, summed.", []string{"direction"}, nil)
	descPending     = prometheus.NewDesc("fractals_ledger_pending_chain_actions", "Chain actions queued, not yet mined.", nil, nil)
)

// deviceOfReading names the device a snapshot reading comes from, as the device layer names them in
// its read errors (pv, battery, meter, pcc, ev, load).
func deviceOfReading(name string) string {
	switch {
	case strings.HasPrefix(name, "pv_"):
		return "pv"
	case strings.HasPrefix(name, "battery_"), name == "soc", name == "grid_forming":
		return "battery"
	case strings.HasPrefix(name, "grid_"):
		return "meter"
	case name == "pcc_closed":
		return "pcc"
	case strings.HasPrefix(name, "ev_"):
		return "ev"
	}
	return "load"
}

// deviceOfError is the device a read error names first ("meter.power ...", "pv: ..."); errors that
// name none count as "unknown". Only the device layer's names are labels, so the series stay few.
func deviceOfError(msg string) string {
	end := strings.IndexAny(msg, ".: ")
	if end < 0 {
		end = len(msg)
	}
	switch d := msg[:end]; d {
	case "pv", "battery", "meter", "utility", "pcc", "ev", "load", "loads":
		return d
	}
	return "unknown"
}

// countReadErrors counts the cycle's failed reads per device (on the loop goroutine, from Observe).
func (m *Metrics) countReadErrors(st *firmware.Status) {
	for _, e := range st.ReadErrors {
		m.readErrors.WithLabelValues(deviceOfError(e)).Inc()
	}
}

// countPhase counts the island phase's transitions; m.mu is held.
func (m *Metrics) countPhase(st *firmware.Status) {
	ph := st.State.Island.Phase
	if m.have && ph != m.lastPhase {
		m.phases.WithLabelValues(m.lastPhase.String(), ph.String()).Inc()
	}
	m.lastPhase = ph
}

// collectDevices reports staleness and age per device from the latest status.
func collectDevices(st *firmware.Status, ch chan<- prometheus.Metric) {
	stale, age := map[string]bool{}, map[string]float64{}
	for _, r := range readingsOf(st) {
		d := deviceOfReading(r.name)
		stale[d] = stale[d] || r.quality.String() != "good"
	}
	for _, a := range agesOf(st) {
		d := deviceOfReading(a.name)
		age[d] = max(age[d], a.value)
	}
	for d, s := range stale {
		ch <- prometheus.MustNewConstMetric(descDeviceStale, prometheus.GaugeValue, boolValue(s), d)
	}
	for d, a := range age {
		ch <- prometheus.MustNewConstMetric(descDeviceAge, prometheus.GaugeValue, a, d)
	}
	ch <- prometheus.MustNewConstMetric(descPhase, prometheus.GaugeValue, 1, st.State.Island.Phase.String())
	if s := st.State.Schedule; !s.End.IsZero() {
		ch <- prometheus.MustNewConstMetric(descSchedule, prometheus.GaugeValue, float64(s.NetExchange), "net_exchange")
		ch <- prometheus.MustNewConstMetric(descSchedule, prometheus.GaugeValue, float64(s.EV), "ev")
	}
}

// AttachDaemon adds the daemon's mesh and ledger figures, read at scrape time.
func (m *Metrics) AttachDaemon(d *firmware.Daemon) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.daemon = d
}

func collectCommunity(d *firmware.Daemon, ch chan<- prometheus.Metric) {
	if ms, ok := d.MeshView(); ok {
		conn := map[bool]float64{true: 0, false: 0}
		var in, out, bin, bout float64
		for _, p := range ms.Peers {
			conn[p.Connected]++
			in, out, bin, bout = in+float64(p.MsgsIn), out+float64(p.MsgsOut), bin+float64(p.BytesIn), bout+float64(p.BytesOut)
		}
		for c, n := range conn {
			ch <- prometheus.MustNewConstMetric(descMeshPeers, prometheus.GaugeValue, n, boolLabel(c))
		}
		ch <- prometheus.MustNewConstMetric(descMeshMsgs, prometheus.CounterValue, in, "in")
		ch <- prometheus.MustNewConstMetric(descMeshMsgs, prometheus.CounterValue, out, "out")
		ch <- prometheus.MustNewConstMetric(descMeshBytes, prometheus.CounterValue, bin, "in")
		ch <- prometheus.MustNewConstMetric(descMeshBytes, prometheus.CounterValue, bout, "out")
		c := ms.Counters
		for name, v := range map[string]uint64{"delivered": c.Delivered, "relayed": c.Relayed, "duplicates": c.Duplicates,
			"rejected": c.Rejected, "queued": c.Queued, "expired": c.Expired, "throttled": c.Throttled} {
			ch <- prometheus.MustNewConstMetric(descMeshRouter, prometheus.CounterValue, float64(v), name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if chans, pending, ok := d.LedgerView(ctx); ok {
		states := map[string]float64{}
		var sent, received float64
		for _, c := range chans {
			states[c.State]++
			sent, received = sent+float64(c.Sent), received+float64(c.Received)
		}
		for s, n := range states {
			ch <- prometheus.MustNewConstMetric(descChannels, prometheus.GaugeValue, n, s)
		}
		ch <- prometheus.MustNewConstMetric(descPayments, prometheus.CounterValue, sent, "sent")
		ch <- prometheus.MustNewConstMetric(descPayments, prometheus.CounterValue, received, "received")
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(pending))
	}
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
