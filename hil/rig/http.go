package rig

import (
	"encoding/json"
	"io"
	"net/http"
)

// Handler serves the plant's truth and takes faults:
//
//	GET  /truth           the latest sample
//	GET  /truth/history   the kept samples, oldest first
//	GET  /devices         the devices as served
//	POST /fault           a Fault as JSON
func (r *Rig) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /truth", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, r.Truth()) })
	mux.HandleFunc("GET /truth/history", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, r.History()) })
	mux.HandleFunc("GET /devices", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, r.Devices()) })
	mux.HandleFunc("POST /fault", func(w http.ResponseWriter, req *http.Request) {
		var f Fault
		dec := json.NewDecoder(io.LimitReader(req.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			http.Error(w, "fault: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := r.Inject(f); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, f)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v) // an error means the client went away
}
