package firmware

import (
	"net/http"
	"sync"
	"time"
)

// HistorySample is one point of the dashboard's plots: powers in W (battery positive charging, grid
// positive importing), SoC as a fraction. A value that was not good in its cycle is null.
type HistorySample struct {
	At      time.Time `json:"at"`
	PV      *float64  `json:"pv_w"`
	Battery *float64  `json:"battery_w"`
	Grid    *float64  `json:"grid_w"`
	Loads   *float64  `json:"loads_w"` // critical, Wi-Fi and storage circuits
	EV      *float64  `json:"ev_w"`
	SoC     *float64  `json:"soc"`
}

// History keeps the last hours of the unit in memory for the dashboard: one sample every interval of
// unit time in a fixed ring, so its memory never grows.
type History struct {
	every time.Duration
	mu    sync.Mutex
	ring  []HistorySample
	next  int
	full  bool
	last  time.Time
}

// NewHistory keeps span of samples taken every interval.
func NewHistory(span, every time.Duration) *History {
	n := int(span / every)
	if n < 1 {
		n = 1
	}
	return &History{every: every, ring: make([]HistorySample, n)}
}

// Observe takes a sample when the interval has passed since the last one.
func (h *History) Observe(st *Status, _ time.Duration) {
	at := st.Snapshot.At
	if !h.last.IsZero() && at.Sub(h.last) < h.every {
		return
	}
	h.last = at
	s := sampleOf(st)
	h.mu.Lock()
	h.ring[h.next] = s
	h.next = (h.next + 1) % len(h.ring)
	h.full = h.full || h.next == 0
	h.mu.Unlock()
}

func sampleOf(st *Status) HistorySample {
	snap := &st.Snapshot
	s := HistorySample{At: snap.At}
	pick := func(ok bool, v float64) *float64 {
		if !ok {
			return nil
		}
		return &v
	}
	s.PV = pick(snap.PVPower.Good(), float64(snap.PVPower.Value))
	s.Battery = pick(snap.BatteryPower.Good(), float64(snap.BatteryPower.Value))
	s.Grid = pick(snap.GridPower.Good(), float64(snap.GridPower.Value))
	s.EV = pick(snap.EVPower.Good(), float64(snap.EVPower.Value))
	s.SoC = pick(snap.SoC.Good(), float64(snap.SoC.Value))
	loads, any := 0.0, false
	for k := range snap.Loads {
		if snap.Loads[k].Power.Good() {
			loads += float64(snap.Loads[k].Power.Value)
			any = true
		}
	}
	s.Loads = pick(any, loads)
	return s
}

// Samples returns the kept samples, oldest first.
func (h *History) Samples() []HistorySample {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.full {
		return append([]HistorySample(nil), h.ring[:h.next]...)
	}
	return append(append([]HistorySample(nil), h.ring[h.next:]...), h.ring[:h.next]...)
}

// ServeHTTP serves the samples as JSON.
func (h *History) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, struct {
		IntervalSeconds float64         `json:"interval_s"`
		Samples         []HistorySample `json:"samples"`
	}{h.every.Seconds(), h.Samples()})
}
