package firmware

import (
	"context"
	"net/http"
	"time"
)

// Now is the daemon's clock's time (unit time).
func (d *Daemon) Now() time.Time { return d.clock.Now() }

// MeshView is the mesh node's status for the operations reporters; false when the daemon runs none.
func (d *Daemon) MeshView() (MeshStatus, bool) {
	if d.mesh == nil {
		return MeshStatus{}, false
	}
	return MeshStatusOf(d.mesh), true
}

// LedgerView is the ledger's channels and pending chain actions; false when the daemon runs no ledger.
func (d *Daemon) LedgerView(ctx context.Context) ([]ChannelView, int, bool) {
	if d.ledger == nil {
		return nil, 0, false
	}
	return d.ledger.Channels(ctx), d.ledger.Pending(), true
}

// CommunityView is what GET /api/community returns for the dashboard: the mesh node's status and the
// ledger's channels, each null when the daemon runs none (always 200, so a page without them logs
// no failed request).
type CommunityView struct {
	Mesh   *MeshStatus  `json:"mesh"`
	Ledger *LedgerBrief `json:"ledger"`
}

// LedgerBrief is the ledger part of CommunityView.
type LedgerBrief struct {
	Channels []ChannelView `json:"channels"`
	Pending  int           `json:"pending_chain_actions"`
}

func (d *Daemon) serveCommunity(w http.ResponseWriter, r *http.Request) {
	var v CommunityView
	if ms, ok := d.MeshView(); ok {
		v.Mesh = &ms
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if chans, pending, ok := d.LedgerView(ctx); ok {
		v.Ledger = &LedgerBrief{Channels: chans, Pending: pending}
	}
	writeJSON(w, v)
}

// LedgerTotals are the ledger's figures for the reporters, from the node's own view (no chain call).
type LedgerTotals struct {
	Channels int    // channels with the configured neighbours
	Sent     uint64 // paid over them, in the ledger's micro-units
	Received uint64
	Pending  int // chain actions queued, not yet mined
}

// LedgerTotals sums the ledger's channels; false when the daemon runs no ledger or it has stopped.
func (d *Daemon) LedgerTotals() (LedgerTotals, bool) {
	r, ok := d.LedgerRefs()
	if !ok {
		return LedgerTotals{}, false
	}
	t := LedgerTotals{Channels: len(r.Channels), Pending: d.ledger.Pending()}
	for _, c := range r.Channels {
		t.Sent += c.Sent
		t.Received += c.Received
	}
	return t, true
}
