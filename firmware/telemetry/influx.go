package telemetry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	influxlog "github.com/influxdata/influxdb-client-go/v2/log"

	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/fractals"
)

// InfluxOptions say where and how the unit writes to InfluxDB.
type InfluxOptions struct {
	URL, Org, Bucket, Token string
	Unit                    string // the unit tag
	BatchSize               uint   // points per write
	FlushInterval           time.Duration
	BufferPoints            uint // points kept for retrying while the database is unreachable
	// QueueCycles is how many cycles' statuses wait between the control loop and the encoder; a
	// status that finds the queue full is dropped and its points counted. Default 64.
	QueueCycles int
	// RetryInterval is the first wait before retrying a failed write (doubling up to 30 s);
	// default 5s.
	RetryInterval time.Duration
}

// Influx writes every observed cycle to InfluxDB through the client's non-blocking write API. The
// client's WritePoint can block while a write is in flight, so the cycle hands its status to a
// bounded queue instead and returns; one goroutine encodes and writes. What the queue cannot hold is
// dropped and counted; the client keeps up to BufferPoints for retrying and drops the oldest beyond.
type Influx struct {
	opts   InfluxOptions
	client influxdb2.Client
	api    api.WriteAPI
	queue  chan firmware.Status
	done   chan struct{}
	stop   sync.Once

	droppedQueue atomic.Uint64 // points never handed to the client (queue full)
	handed       atomic.Uint64 // points handed to the client
	written      atomic.Uint64 // points the server confirmed (2xx)
	failures     atomic.Uint64 // failed write requests
	lastErr      atomic.Value  // string

	daemon *firmware.Daemon // nil: no mesh, ledger or market points (AttachDaemon)
}

// CommunityEvery is how often, in unit time, the writer adds the mesh, ledger and market points:
// they change on the market's and the mesh's time scales, and every cycle would make each outage
// hour's retry buffer larger for nothing.
const CommunityEvery = 10 * time.Second

// AttachDaemon has the writer add d's mesh, ledger and market figures every CommunityEvery. Call
// before the daemon runs.
func (in *Influx) AttachDaemon(d *firmware.Daemon) { in.daemon = d }

// NewInflux starts the writer. It does not contact the server: an unreachable database is normal.
func NewInflux(o InfluxOptions) (*Influx, error) {
	if o.URL == "" || o.Bucket == "" {
		return nil, errors.New("influx: url and bucket are required")
	}
	if o.QueueCycles <= 0 {
		o.QueueCycles = 64
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 5 * time.Second
	}
	// The client would log every failed write and retry on stderr, a line a second through an outage;
	// the writer counts them instead (Stats, /api/telemetry, /metrics).
	influxlog.Log = nil
	in := &Influx{opts: o, queue: make(chan firmware.Status, o.QueueCycles), done: make(chan struct{})}
	opts := influxdb2.DefaultOptions().
		SetBatchSize(o.BatchSize).
		SetFlushInterval(uint(o.FlushInterval.Milliseconds())).
		SetRetryBufferLimit(o.BufferPoints).
		SetRetryInterval(uint(o.RetryInterval.Milliseconds())).
		SetMaxRetryInterval(uint(max(o.RetryInterval, 30*time.Second).Milliseconds())).
		SetMaxRetryTime(uint((24 * time.Hour).Milliseconds())).
		SetHTTPRequestTimeout(10).
		SetPrecision(time.Millisecond).
		SetHTTPClient(&http.Client{Timeout: 10 * time.Second, Transport: &countingTransport{next: http.DefaultTransport, written: &in.written}})
	in.client = influxdb2.NewClientWithOptions(o.URL, o.Token, opts)
	in.api = in.client.WriteAPI(o.Org, o.Bucket)
	in.api.SetWriteFailedCallback(func(_ string, err influxhttp.Error, _ uint) bool {
		in.failures.Add(1)
		in.lastErr.Store(err.Error())
		return true // keep retrying; the retry buffer's bound decides what is lost
	})
	go in.run()
	return in, nil
}

// Observe hands the status to the writer without waiting.
func (in *Influx) Observe(st *firmware.Status, took time.Duration) {
	select {
	case in.queue <- *st:
	default:
		in.droppedQueue.Add(uint64(pointsPerStatus(st)))
	}
}

func (in *Influx) run() {
	defer close(in.done)
	var lastEvent, lastCommunity time.Time
	for st := range in.queue {
		pts := Points(&st, in.opts.Unit, lastEvent)
		if at := st.Snapshot.At; lastCommunity.IsZero() || at.Sub(lastCommunity) >= CommunityEvery {
			lastCommunity = at
			pts = append(pts, CommunityPoints(figuresOf(in.daemon, &st), in.opts.Unit, at)...)
		}
		for _, e := range st.Events {
			if e.At.After(lastEvent) {
				lastEvent = e.At
			}
		}
		for _, p := range pts {
			in.api.WritePoint(p)
		}
		in.handed.Add(uint64(len(pts)))
	}
}

// Stop writes what is queued (trying for at most the HTTP timeout) and closes the client.
func (in *Influx) Stop() {
	in.stop.Do(func() {
		close(in.queue)
		<-in.done
		in.api.Flush()
		in.client.Close()
	})
}

// InfluxStats are the writer's counters.
type InfluxStats struct {
	Handed       uint64 `json:"points_handed"`        // to the client
	Written      uint64 `json:"points_written"`       // confirmed by the server
	DroppedQueue uint64 `json:"points_dropped_queue"` // never handed: the queue was full
	Failures     uint64 `json:"write_failures"`       // failed write requests (retried)
	LastError    string `json:"last_error,omitempty"`
}

// Stats returns the counters. Handed − Written is what the client still holds for retrying or has
// dropped from its full retry buffer.
func (in *Influx) Stats() InfluxStats {
	s := InfluxStats{Handed: in.handed.Load(), Written: in.written.Load(), DroppedQueue: in.droppedQueue.Load(), Failures: in.failures.Load()}
	if e, ok := in.lastErr.Load().(string); ok {
		s.LastError = e
	}
	return s
}

// countingTransport counts the lines of line protocol in writes the server accepted: the one exact
// figure of what reached the database.
type countingTransport struct {
	next    http.RoundTripper
	written *atomic.Uint64
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var lines int
	if req.Body != nil && req.Method == http.MethodPost {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("influx: reading request body: %w", err)
		}
		lines = bytes.Count(body, []byte{'\n'})
		if len(body) > 0 && body[len(body)-1] != '\n' {
			lines++
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := t.next.RoundTrip(req)
	if err == nil && resp.StatusCode/100 == 2 {
		t.written.Add(uint64(lines))
	}
	return resp, err
}

// pointsPerStatus is how many points Points makes of st (without events already written).
func pointsPerStatus(st *firmware.Status) int {
	n := 4
	for _, e := range st.Events {
		if e.At.Equal(st.Snapshot.At) {
			n++
		}
	}
	return n
}

// CommunityPoints are the measurements mesh, ledger and market of the figures the unit has.
func CommunityPoints(f communityFigures, unit string, at time.Time) []*write.Point {
	tags := map[string]string{"unit": unit}
	var pts []*write.Point
	for _, m := range []struct {
		name   string
		fields map[string]any
	}{{"mesh", f.mesh}, {"ledger", f.ledger}, {"market", f.market}} {
		if m.fields != nil {
			pts = append(pts, influxdb2.NewPoint(m.name, tags, m.fields, at))
		}
	}
	return pts
}

// Points is one cycle in the schema documented in the README: measurements snapshot, commands,
// state and energy, one point each, and one event point per event newer than after.
func Points(st *firmware.Status, unit string, after time.Time) []*write.Point {
	at := st.Snapshot.At
	tags := map[string]string{"unit": unit}
	snap := map[string]any{}
	for _, r := range readingsOf(st) {
		if r.quality != fractals.Missing {
			snap[r.name] = r.value
		}
		snap[r.name+"_quality"] = r.quality.String()
	}
	c := &st.Commands
	cmds := map[string]any{"pv_limit_w": float64(c.PVLimit), "battery_power_w": float64(c.BatteryPower),
		"ev_power_w": float64(c.EVPower), "pcc_closed": c.PCCClosed}
	state := map[string]any{"mode": st.State.Mode.String(), "islanded": st.State.Mode == fractals.Islanded,
		"safe": st.State.Safe, "ev_infeasible": st.State.EVInfeasible, "cycles": int64(st.Cycles)}
	for k := range c.LoadOn {
		name := fractals.LoadKind(k).String()
		cmds[name+"_on"] = c.LoadOn[k]
		state[name+"_shed"] = st.State.Shed[k]
	}
	energy := map[string]any{}
	for _, e := range energyOf(&st.Energy) {
		energy[e.name+"_wh"] = e.value
	}
	pts := []*write.Point{influxdb2.NewPoint("snapshot", tags, snap, at), influxdb2.NewPoint("commands", tags, cmds, at),
		influxdb2.NewPoint("state", tags, state, at), influxdb2.NewPoint("energy", tags, energy, at)}
	for _, e := range st.Events {
		if e.At.After(after) {
			pts = append(pts, influxdb2.NewPoint("event", map[string]string{"unit": unit, "kind": e.Kind},
				map[string]any{"detail": e.Detail}, e.At))
		}
	}
	return pts
}
