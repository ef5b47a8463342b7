package firmware

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

// Status is what a unit shows of itself: the last snapshot, the commands the controller decided and
// those the devices hold (they differ while a device refuses writes, inside dead-bands and ramps), the
// controller's state and its energy counters.
type Status struct {
	Cycles   uint64            `json:"cycles"`
	Snapshot fractals.Snapshot `json:"snapshot"`
	Desired  fractals.Commands `json:"desired"`
	Commands fractals.Commands `json:"commands"`
	State    fractals.State    `json:"state"`
	Energy   fractals.Energy   `json:"energy_wh"`
	Events   []fractals.Event  `json:"recent_events"`
	// ReadErrors are the last cycle's failed reads with their reasons (stale, implausible ...).
	ReadErrors []string `json:"read_errors,omitempty"`
}

// maxRecentEvents bounds the event history kept for the status page, so memory stays flat.
const maxRecentEvents = 32

// Unit runs the control cycle of one unit: read → Step → write → record.
type Unit struct {
	cfg     fractals.Config
	devices fractals.Devices
	clock   clock.Clock
	writer  *fractals.Writer
	log     *slog.Logger // nil: silent (the simulator)

	mu     sync.Mutex // guards status against the HTTP handler
	status Status
	state  fractals.State
	lastAt time.Time
	// planned is the planned-island command from the API, applied to the state at the next tick.
	planned bool
	// evMode is the EV-mode command (SetEVMode), applied to the state like planned.
	evMode fractals.EVMode
	// night forecasts the unit's PV and critical load for its night reserve (nightreserve.go);
	// nil: none kept. nightReserve is the latest, applied to the state like planned.
	night        *nightForecast
	nightReserve units.Fraction
	// nextSchedule is the market's commitment (CommitSchedule), applied to the state at the next tick.
	nextSchedule *fractals.Schedule
}

// NewUnit wires devices to a controller on a clock. A nil logger keeps the unit silent.
func NewUnit(cfg fractals.Config, wcfg fractals.WriterConfig, devices fractals.Devices, clk clock.Clock, log *slog.Logger) (*Unit, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Protection = cfg.Protecting() // once here, not on every protection tick
	return &Unit{cfg: cfg, devices: devices, clock: clk, writer: fractals.NewWriter(wcfg), log: log}, nil
}

// Cycle runs one control cycle. Device errors are logged and reflected in the readings' quality; they
// never stop the cycle.
func (u *Unit) Cycle(ctx context.Context) error {
	now := u.clock.Now()
	u.mu.Lock()
	prev := u.status.Snapshot
	u.mu.Unlock()
	snap, readErrs := fractals.Read(ctx, &u.devices, now, &prev, u.cfg.StaleLimit)
	u.observeForecasts(&snap)
	next, cmds, events := fractals.Step(&u.cfg, u.currentState(), &snap)
	written, writeErrs := u.writer.Write(ctx, &u.devices, cmds, now)
	u.record(now, snap, next, cmds, written, events)
	u.recordReadErrors(readErrs)
	err := errors.Join(append(readErrs, writeErrs...)...)
	if u.log != nil {
		u.logCycle(snap, written, next, events, err)
	}
	return err
}

func (u *Unit) record(now time.Time, snap fractals.Snapshot, next fractals.State, desired, written fractals.Commands, events []fractals.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.lastAt.IsZero() {
		u.status.Energy.Add(&u.status.Snapshot, now.Sub(u.lastAt))
	}
	u.lastAt = now
	u.state = next
	u.status.Cycles++
	u.status.Snapshot, u.status.Desired, u.status.Commands, u.status.State = snap, desired, written, next
	if len(events) > 0 {
		ev := append(u.status.Events, events...)
		if len(ev) > maxRecentEvents {
			ev = append([]fractals.Event(nil), ev[len(ev)-maxRecentEvents:]...)
		}
		u.status.Events = ev
	}
}

func (u *Unit) logCycle(s fractals.Snapshot, c fractals.Commands, st fractals.State, events []fractals.Event, err error) {
	for _, e := range events {
		u.log.Info("event", "kind", e.Kind, "detail", e.Detail)
	}
	u.log.Info("cycle", "mode", st.Mode.String(), "pv_w", round(float64(s.PVPower.Value)),
		"soc", round(float64(s.SoC.Value)*1000)/1000, "battery_w", round(float64(s.BatteryPower.Value)),
		"grid_w", round(float64(s.GridPower.Value)), "hz", s.GridFrequency.Value, "ev_w", round(float64(s.EVPower.Value)),
		"set_battery_w", round(float64(c.BatteryPower)), "set_ev_w", round(float64(c.EVPower)),
		"pv_limit_w", round(float64(c.PVLimit)), "safe", st.Safe)
	if err != nil {
		u.log.Warn("device errors", "err", err)
	}
}

func round(x float64) float64 {
	if x < 0 {
		return -float64(int64(-x + 0.5))
	}
	return float64(int64(x + 0.5))
}

// Status returns a copy of the unit's status.
func (u *Unit) Status() Status {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.status
	s.Events = append([]fractals.Event(nil), u.status.Events...)
	return s
}
