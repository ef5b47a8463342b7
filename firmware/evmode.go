package firmware

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/fractals-energy/fractals/fractals"
)

// SetEVMode is the EV-mode command (off, now or deadline), applied to the state at the next cycle
// like the planned-island command. An unknown mode is refused with the accepted ones. The mode is not
// kept across a restart: the unit comes back charging by deadline, its normal behaviour.
func (u *Unit) SetEVMode(name string) error {
	mode, err := fractals.ParseEVMode(name)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.evMode = mode
	u.appendEvents([]fractals.Event{{At: u.clock.Now(), Kind: "ev_mode_command", Detail: "EV mode " + mode.String()}})
	return nil
}

// Commands are the operator's standing commands, as the unit holds them.
type Commands struct {
	PlannedIsland bool   `json:"planned_island"`
	EVMode        string `json:"ev_mode"`
}

// Commands returns the planned-island and EV-mode commands in force.
func (u *Unit) Commands() Commands {
	u.mu.Lock()
	defer u.mu.Unlock()
	return Commands{PlannedIsland: u.planned, EVMode: u.evMode.String()}
}

// evModeRequest is the body of POST /api/ev.
type evModeRequest struct {
	Mode *string `json:"mode"`
}

// handleEVMode serves POST /api/ev {"mode": "off"|"now"|"deadline"}.
func (d *Daemon) handleEVMode(w http.ResponseWriter, r *http.Request) {
	var req evModeRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && req.Mode == nil {
		err = fmt.Errorf("no mode")
	}
	if err == nil {
		err = d.unit.SetEVMode(*req.Mode)
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("ev: body must be {\"mode\": one of %v}: %v", fractals.EVModeNames(), err), http.StatusBadRequest)
		return
	}
	writeJSON(w, map[string]string{"ev_mode": *req.Mode})
}
