package firmware

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/mesh"
)

// Daemon is a running unit: its control loop on a clock and its HTTP API. With a simulated plant it
// also moves the plant along with the clock, so the whole unit runs in real time with no hardware.
type Daemon struct {
	unit        *Unit
	plant       *hil.Plant // nil on real hardware
	clock       clock.Clock
	cycle       time.Duration
	log         *slog.Logger
	lastAdvance time.Time
	mesh        *mesh.Node  // nil without a mesh node; see AttachMesh
	ops         ops         // observers and extra routes (observe.go)
	ledger      *Ledger     // nil without a channels section (ledger_api.go)
	market      *UnitMarket // nil without mesh and market (communitypeer.go)
}

// NewSimDaemon builds a daemon for one simulated unit whose plant starts at the clock's now.
func NewSimDaemon(o SimOptions, clk clock.Clock, log *slog.Logger) (*Daemon, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	pc := o.PlantConfig(0)
	pc.Start = clk.Now()
	plant, unit, err := newSimulatedUnit(pc, o.Step, clk, log)
	if err != nil {
		return nil, err
	}
	return &Daemon{unit: unit, plant: plant, clock: clk, cycle: o.Step, log: log, lastAdvance: clk.Now()}, nil
}

// Unit returns the daemon's unit.
func (d *Daemon) Unit() *Unit { return d.unit }

// Tick moves a simulated plant up to now and runs one control cycle.
func (d *Daemon) Tick(ctx context.Context) {
	now := d.clock.Now()
	if d.plant != nil {
		d.plant.Advance(now.Sub(d.lastAdvance))
		d.lastAdvance = now
	}
	// Device errors are logged by the unit and reflected in reading quality; the loop goes on.
	began := time.Now()
	_ = d.unit.Cycle(ctx)
	d.observe(time.Since(began))
}

// Run serves the API on ln (if not nil) and runs the control loop until ctx is done, then stops the
// server gracefully.
func (d *Daemon) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, 1)
	if ln != nil {
		go func() { serveErr <- srv.Serve(ln) }()
		if d.log != nil {
			d.log.Info("api listening", "addr", ln.Addr().String())
		}
	}
	ticker := d.clock.NewTicker(d.cycle)
	defer ticker.Stop()
	defer d.stopOps()
	protection := d.protectionTicker()
	defer protection.Stop()
	if d.market != nil {
		go func() { _ = d.market.Run(ctx) }()
	}
	d.Tick(ctx)
	for {
		select {
		case <-ctx.Done():
			if ln == nil {
				return nil
			}
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(shutdown)
		case err := <-serveErr:
			return fmt.Errorf("api server: %w", err)
		case <-ticker.C():
			d.Tick(ctx)
		case <-protection.C():
			_ = d.unit.ProtectionTick(ctx) // errors show in reading quality, as in a cycle
		}
	}
}

// Handler serves the unit's HTTP API.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, d.unit.Status())
	})
	mux.HandleFunc("GET /api/mesh", d.serveMesh)
	mux.HandleFunc("POST /api/island", d.handleIsland)
	mux.HandleFunc("POST /api/ev", d.handleEVMode)
	mux.HandleFunc("GET /api/community", d.serveCommunity)
	mux.HandleFunc("GET /api/market", d.serveMarket)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		st := d.unit.Status()
		if st.Cycles == 0 || d.clock.Since(st.Snapshot.At) > 3*d.cycle {
			http.Error(w, "control loop stalled", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	d.mountOps(mux)
	d.ledgerRoutes(mux)
	return mux
}

// writeJSON encodes before writing, so that a value that cannot be encoded gets a 500 with the reason
// instead of a 200 with an empty body.
func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// A write error means the client went away: there is no one left to tell.
	_, _ = w.Write(append(body, '\n'))
}
