package telemetry

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/fractals"
)

// Metrics is the Prometheus view of a unit. The cycle histogram and the event counters are updated
// when a cycle is observed; readings, energy counters and states are read from the latest status at
// scrape time, so a cycle costs one histogram update and a struct copy.
type Metrics struct {
	registry    *prometheus.Registry
	cycle       prometheus.Histogram
	events      *prometheus.CounterVec
	trips       prometheus.Counter
	transitions *prometheus.CounterVec
	notGood     *prometheus.CounterVec

	mu       sync.Mutex
	latest   firmware.Status
	have     bool
	lastMode fractals.Mode
	// lastEvent is the time of the newest event counted (read and written on the loop goroutine).
	lastEvent time.Time
	extra     []func() (name string, value float64)
}

var (
	descReading = prometheus.NewDesc("fractals_reading", "Latest value of a snapshot reading (units in its name; booleans 0/1).", []string{"reading"}, nil)
	descQuality = prometheus.NewDesc("fractals_reading_good", "1 if the reading was read good in the last cycle, 0 if stale or missing.", []string{"reading", "quality"}, nil)
	descAge     = prometheus.NewDesc("fractals_reading_age_seconds", "Time since the reading was last read good.", []string{"reading"}, nil)
	descEnergy  = prometheus.NewDesc("fractals_energy_wh_total", "Energy counter of the unit in Wh.", []string{"counter"}, nil)
	descMode    = prometheus.NewDesc("fractals_islanded", "1 while the unit is islanded.", nil, nil)
	descSafe    = prometheus.NewDesc("fractals_safe_mode", "1 while the controller holds safe set-points.", nil, nil)
	descShed    = prometheus.NewDesc("fractals_load_shed", "1 while the controller has shed the load.", []string{"load"}, nil)
	descCycles  = prometheus.NewDesc("fractals_cycles_total", "Control cycles run since start.", nil, nil)
	descExtra   = prometheus.NewDesc("fractals_telemetry", "Counters of the telemetry itself (points dropped, messages published).", []string{"counter"}, nil)
)

// NewMetrics registers the unit's metrics and the Go runtime's on a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry()}
	m.cycle = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "fractals_cycle_duration_seconds",
		Help:    "Wall time of one control cycle (read, step, write).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12)})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fractals_events_total", Help: "Controller events by kind."}, []string{"kind"})
	m.trips = prometheus.NewCounter(prometheus.CounterOpts{Name: "fractals_protection_trips_total",
		Help: "Times protection opened the PCC because the utility left its window."})
	m.transitions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fractals_island_transitions_total",
		Help: "Mode changes, by the mode entered."}, []string{"to"})
	m.notGood = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fractals_reading_not_good_total",
		Help: "Cycles in which a reading was not read good (a failed or missing device read), by reading and quality."}, []string{"reading", "quality"})
	m.registry.MustRegister(m.cycle, m.events, m.trips, m.transitions, m.notGood, m,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// AddCounter exports another reporter's counter (e.g. the InfluxDB points dropped) as
// fractals_telemetry{counter=name}.
func (m *Metrics) AddCounter(name string, read func() float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.extra = append(m.extra, func() (string, float64) { return name, read() })
}

// Observe records the cycle.
func (m *Metrics) Observe(st *firmware.Status, took time.Duration) {
	m.cycle.Observe(took.Seconds())
	newest := m.lastEvent
	for _, e := range st.Events {
		if !e.At.After(m.lastEvent) {
			continue // an older event still in the recent list: counted when it happened
		}
		newest = maxTime(newest, e.At)
		m.events.WithLabelValues(e.Kind).Inc()
		if e.Kind == "islanded" {
			m.trips.Inc()
		}
	}
	m.lastEvent = newest
	for _, r := range readingsOf(st) {
		if r.quality != fractals.Good {
			m.notGood.WithLabelValues(r.name, r.quality.String()).Inc()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.have && st.State.Mode != m.lastMode {
		m.transitions.WithLabelValues(st.State.Mode.String()).Inc()
	}
	m.latest, m.have, m.lastMode = *st, true, st.State.Mode
}

// Describe sends nothing: the status metrics are unchecked, so their labels can follow the status.
func (m *Metrics) Describe(chan<- *prometheus.Desc) {}

// Collect reads the latest status.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	st, have, extra := m.latest, m.have, m.extra
	m.mu.Unlock()
	for _, f := range extra {
		name, v := f()
		ch <- prometheus.MustNewConstMetric(descExtra, prometheus.CounterValue, v, name)
	}
	if !have {
		return
	}
	ch <- prometheus.MustNewConstMetric(descCycles, prometheus.CounterValue, float64(st.Cycles))
	for _, r := range readingsOf(&st) {
		if r.quality != fractals.Missing {
			ch <- prometheus.MustNewConstMetric(descReading, prometheus.GaugeValue, r.value, r.name)
		}
		ch <- prometheus.MustNewConstMetric(descQuality, prometheus.GaugeValue, boolValue(r.quality == fractals.Good), r.name, r.quality.String())
	}
	for _, a := range agesOf(&st) {
		ch <- prometheus.MustNewConstMetric(descAge, prometheus.GaugeValue, a.value, a.name)
	}
	for _, e := range energyOf(&st.Energy) {
		ch <- prometheus.MustNewConstMetric(descEnergy, prometheus.CounterValue, e.value, e.name)
	}
	ch <- prometheus.MustNewConstMetric(descMode, prometheus.GaugeValue, boolValue(st.State.Mode == fractals.Islanded))
	ch <- prometheus.MustNewConstMetric(descSafe, prometheus.GaugeValue, boolValue(st.State.Safe))
	for k, shed := range st.State.Shed {
		ch <- prometheus.MustNewConstMetric(descShed, prometheus.GaugeValue, boolValue(shed), fractals.LoadKind(k).String())
	}
}

// agesOf gives the age of the readings that were ever read good, in seconds at the snapshot's time.
func agesOf(st *firmware.Status) []reading {
	s := &st.Snapshot
	at := []struct {
		name string
		t    time.Time
	}{{"pv_power_w", s.PVPower.At}, {"battery_power_w", s.BatteryPower.At}, {"soc", s.SoC.At},
		{"grid_power_w", s.GridPower.At}, {"grid_frequency_hz", s.GridFrequency.At}, {"ev_power_w", s.EVPower.At}}
	var out []reading
	for _, a := range at {
		if !a.t.IsZero() {
			out = append(out, reading{a.name, s.At.Sub(a.t).Seconds(), fractals.Good})
		}
	}
	return out
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
