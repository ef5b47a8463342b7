package der

import "context"

// The unit's own services as devices: its Wi-Fi access point and its IGFS storage node. The
// controller degrades them in steps when energy is short (see firmware.ApplyServiceStep).

// AccessPointStatus is what the Wi-Fi access point reports.
type AccessPointStatus struct {
	Enabled     bool
	Clients     int // associated stations now
	ClientLimit int // most stations it accepts
}

// AccessPoint is the unit's Wi-Fi access point.
type AccessPoint interface {
	ReadAccessPoint(ctx context.Context) (AccessPointStatus, error)
	SetClientLimit(ctx context.Context, n int) error
	SetAccessPointEnabled(ctx context.Context, on bool) error
}

// BytesPerSecond is a data rate.
type BytesPerSecond int64

// StorageNodeStatus is what the IGFS storage node reports.
type StorageNodeStatus struct {
	ReplicationPaused bool
	ReadOnly          bool
	BandwidthLimit    BytesPerSecond // 0: unlimited
}

// StorageNode is the unit's IGFS storage node.
type StorageNode interface {
	ReadStorageNode(ctx context.Context) (StorageNodeStatus, error)
	SetReplicationPaused(ctx context.Context, paused bool) error
	SetReadOnly(ctx context.Context, readOnly bool) error
	SetBandwidthLimit(ctx context.Context, limit BytesPerSecond) error
}

// ClientLimited is the configuration of an access point whose full client limit the unit file
// gives; the controller's service steps reduce it (to an eighth) and restore it.
type ClientLimited interface{ Limit() int }
