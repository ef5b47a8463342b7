package firmware

import (
	"context"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/hil"
)

// serviceSteps carries the controller's service step to the unit's access point and storage node
// through ApplyServiceStep; the writer calls it when the step changes and on its refresh.
type serviceSteps struct {
	ap  der.AccessPoint
	sn  der.StorageNode
	lim ServiceLimits
}

func (s serviceSteps) SetServiceStep(ctx context.Context, step int) error {
	return ApplyServiceStep(ctx, s.ap, s.sn, step, s.lim)
}

// servicesOf is the degrader of a unit's services, nil when it has neither an access point nor a
// storage node (a nil interface, so the writer skips it).
func servicesOf(ap der.AccessPoint, sn der.StorageNode, lim ServiceLimits) der.ServiceDegrader {
	if ap == nil && sn == nil {
		return nil
	}
	return serviceSteps{ap: ap, sn: sn, lim: lim}
}

// simAccessPoint is the simulated plant's Wi-Fi access point: its client limit and switch shape the
// plant's Wi-Fi demand.
type simAccessPoint struct{ p *hil.Plant }

func (s simAccessPoint) ReadAccessPoint(context.Context) (der.AccessPointStatus, error) {
	st := s.p.Services()
	return der.AccessPointStatus{Enabled: !st.WiFiOff, ClientLimit: st.ClientLimit}, nil
}

func (s simAccessPoint) SetClientLimit(_ context.Context, n int) error {
	s.p.SetWiFiClientLimit(n)
	return nil
}

func (s simAccessPoint) SetAccessPointEnabled(_ context.Context, on bool) error {
	s.p.SetWiFiEnabled(on)
	return nil
}

// simStorageNode is the simulated plant's IGFS storage node: replication, writes and bandwidth
// shape the plant's storage demand.
type simStorageNode struct{ p *hil.Plant }

func (s simStorageNode) ReadStorageNode(context.Context) (der.StorageNodeStatus, error) {
	st := s.p.Services()
	return der.StorageNodeStatus{ReplicationPaused: st.ReplicationPaused, ReadOnly: st.ReadOnly,
		BandwidthLimit: der.BytesPerSecond(st.BandwidthLimit)}, nil
}

func (s simStorageNode) SetReplicationPaused(_ context.Context, paused bool) error {
	s.p.SetReplicationPaused(paused)
	return nil
}

func (s simStorageNode) SetReadOnly(_ context.Context, ro bool) error {
	s.p.SetStorageReadOnly(ro)
	return nil
}

func (s simStorageNode) SetBandwidthLimit(_ context.Context, limit der.BytesPerSecond) error {
	s.p.SetStorageBandwidth(float64(limit))
	return nil
}
