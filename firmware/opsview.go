package firmware

import "context"

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
