package firmware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/clock"
)

// ProtectionTick runs one protection tick between control cycles: it reads only the PCC meter (and
// its utility side) and the PCC feedback, steps the relay, the island detector and the island state
// machine, and acts at once on what cannot wait for the next cycle: the PCC contactor, and ceasing to
// energize. Everything else follows at the next cycle's Step.
func (u *Unit) ProtectionTick(ctx context.Context) error {
	now := u.clock.Now()
	u.mu.Lock()
	prev := u.status.Snapshot
	u.mu.Unlock()
	st := u.currentState()
	m, readErrs := fractals.ReadProtection(ctx, &u.devices, now, &prev, u.cfg.StaleLimit)
	next, events := fractals.Protect(&u.cfg, st, m)
	errs := readErrs
	if err := u.actNow(ctx, st, next); err != nil {
		errs = append(errs, err)
	}
	u.mu.Lock()
	u.state = next
	u.status.State = next
	u.appendEvents(events)
	u.mu.Unlock()
	if u.log != nil {
		for _, e := range events {
			u.log.Info("event", "kind", e.Kind, "detail", e.Detail)
		}
	}
	return errors.Join(errs...)
}

// actNow switches the PCC when the island state machine moved to a phase that wants it the other way,
// and stops PV and battery output when the relay ceased energizing.
func (u *Unit) actNow(ctx context.Context, prev, next fractals.State) error {
	var errs []error
	wantClosed := next.Island.Phase.PCCWanted()
	wasClosed := prev.Island.Phase.PCCWanted()
	if u.devices.PCC != nil && (wantClosed != wasClosed || next.Island.Redrive) {
		errs = append(errs, u.devices.PCC.SetSwitch(ctx, wantClosed))
	}
	if prev.Protection.Energize && !next.Protection.Energize {
		if u.devices.PV != nil {
			errs = append(errs, u.devices.PV.SetPVLimit(ctx, 0))
		}
		if u.devices.Battery != nil {
			errs = append(errs, u.devices.Battery.SetBatteryPower(ctx, 0))
		}
	}
	return errors.Join(errs...)
}

// appendEvents keeps the recent events bounded. Call with mu held.
func (u *Unit) appendEvents(events []fractals.Event) {
	if len(events) == 0 {
		return
	}
	ev := append(u.status.Events, events...)
	if len(ev) > maxRecentEvents {
		ev = append([]fractals.Event(nil), ev[len(ev)-maxRecentEvents:]...)
	}
	u.status.Events = ev
}

// RequestIsland is the planned-island command: on opens the PCC at the next tick and holds the island;
// off lets the unit reconnect through enter-service and synchronisation.
func (u *Unit) RequestIsland(on bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.planned = on
	u.appendEvents([]fractals.Event{{At: u.clock.Now(), Kind: "island_command", Detail: fmt.Sprintf("planned island %v by API", on)}})
}

// currentState is the controller's state with the planned-island command applied. The state itself
// is written only by the loop's goroutine (Cycle, ProtectionTick); the lock orders it against the API.
func (u *Unit) currentState() fractals.State {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.nextSchedule != nil {
		u.state.Schedule, u.nextSchedule = *u.nextSchedule, nil
	}
	st := fractals.RequestEVMode(fractals.RequestIsland(u.state, u.planned), u.evMode)
	st.NightReserve = u.nightReserve
	return st
}

// ProtectionPeriod returns the protection tick the unit runs between control cycles.
func (u *Unit) ProtectionPeriod() (tick, cycle time.Duration) {
	return u.cfg.Protection.Tick, u.cfg.Cycle
}

// islandRequest is the body of POST /api/island.
type islandRequest struct {
	Island *bool `json:"island"`
}

// handleIsland serves POST /api/island {"island": true|false}: the planned-island command.
func (d *Daemon) handleIsland(w http.ResponseWriter, r *http.Request) {
	var req islandRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Island == nil {
		msg := "body must be {\"island\": true|false}"
		if err != nil {
			msg += ": " + err.Error()
		}
		http.Error(w, "island: "+msg, http.StatusBadRequest)
		return
	}
	d.unit.RequestIsland(*req.Island)
	writeJSON(w, map[string]bool{"planned": *req.Island})
}

// protectionTicker fires every protection tick when it is shorter than the control cycle; otherwise
// the cycle's own Step is the protection tick and this ticker never fires.
func (d *Daemon) protectionTicker() clock.Ticker {
	tick, cycle := d.unit.ProtectionPeriod()
	if tick <= 0 || tick >= cycle {
		return idleTicker{}
	}
	return d.clock.NewTicker(tick)
}

// idleTicker never fires.
type idleTicker struct{}

func (idleTicker) C() <-chan time.Time { return nil }
func (idleTicker) Stop()               {}
func (idleTicker) Reset(time.Duration) {}
