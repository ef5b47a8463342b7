package rig

import (
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"
)

// StorageNode emulates the IGFS storage node's HTTP API (see der/storagenode for the routes).
type StorageNode struct {
	srv *http.Server
	l   net.Listener

	mu        sync.Mutex
	paused    bool
	readOnly  bool
	bandwidth int64
}

// StartStorageNode listens on addr ("127.0.0.1:0" picks a port; URL tells which).
func StartStorageNode(addr string) (*StorageNode, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	n := &StorageNode{l: l}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/node/status", func(w http.ResponseWriter, _ *http.Request) { n.reply(w) })
	mux.HandleFunc("PUT /v1/node/replication", n.set(func(req map[string]any) bool {
		p, ok := req["paused"].(bool)
		if ok {
			n.paused = p
		}
		return ok
	}))
	mux.HandleFunc("PUT /v1/node/read-only", n.set(func(req map[string]any) bool {
		ro, ok := req["read_only"].(bool)
		if ok {
			n.readOnly = ro
		}
		return ok
	}))
	mux.HandleFunc("PUT /v1/node/bandwidth", n.set(func(req map[string]any) bool {
		bps, ok := req["limit_bps"].(float64)
		if !ok || bps < 0 || bps > 1e12 {
			return false
		}
		n.bandwidth = int64(bps)
		return true
	}))
	n.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = n.srv.Serve(l) }()
	return n, nil
}

// URL is the node's base URL.
func (n *StorageNode) URL() string { return "http://" + n.l.Addr().String() }

// Close stops the emulator.
func (n *StorageNode) Close() error { return n.srv.Close() }

// State reports what the emulated node is doing now.
func (n *StorageNode) State() (paused, readOnly bool, bandwidth int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused, n.readOnly, n.bandwidth
}

func (n *StorageNode) reply(w http.ResponseWriter) {
	n.mu.Lock()
	st := map[string]any{"replication": "running", "read_only": n.readOnly, "bandwidth_limit_bps": n.bandwidth}
	if n.paused {
		st["replication"] = "paused"
	}
	n.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

func (n *StorageNode) set(apply func(map[string]any) bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
			return
		}
		n.mu.Lock()
		ok := apply(req)
		n.mu.Unlock()
		if !ok {
			http.Error(w, "bad value", http.StatusBadRequest)
			return
		}
		n.reply(w)
	}
}
