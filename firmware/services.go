package firmware

import (
	"context"
	"errors"
	"fmt"

	"github.com/fractals-energy/fractals/der"
)

// ServiceLimits are the settings of the unit's services at each degradation step.
type ServiceLimits struct {
	FullClients    int                // Wi-Fi client limit at steps 0..2
	ReducedClients int                // Wi-Fi client limit at step 3
	Bandwidth      der.BytesPerSecond // storage node bandwidth limit at steps 1.. (0: unlimited)
}

// DefaultServiceLimits are those of the standard MeshBox++ unit.
var DefaultServiceLimits = ServiceLimits{FullClients: 64, ReducedClients: 8}

// MaxServiceStep is the deepest degradation step.
const MaxServiceStep = 4

// ApplyServiceStep puts the unit's services in degradation step (0..4), each step keeping the ones
// before: 0 everything on (replication running, writable, full Wi-Fi client limit); 1 IGFS
// replication paused; 2 IGFS read-only; 3 Wi-Fi client limit reduced; 4 Wi-Fi off. A nil device is
// skipped. Every command is sent even when one fails (a storage node that is down must not keep
// the Wi-Fi from being shed); the error joins the failures.
func ApplyServiceStep(ctx context.Context, ap der.AccessPoint, sn der.StorageNode, step int, lim ServiceLimits) error {
	if step < 0 || step > MaxServiceStep {
		return fmt.Errorf("service step %d outside 0..%d", step, MaxServiceStep)
	}
	var errs []error
	if sn != nil {
		bw := der.BytesPerSecond(0)
		if step >= 1 {
			bw = lim.Bandwidth
		}
		errs = append(errs, sn.SetReplicationPaused(ctx, step >= 1), sn.SetReadOnly(ctx, step >= 2), sn.SetBandwidthLimit(ctx, bw))
	}
	if ap != nil {
		limit := lim.FullClients
		if step >= 3 {
			limit = lim.ReducedClients
		}
		if step >= 4 {
			errs = append(errs, ap.SetAccessPointEnabled(ctx, false))
		} else {
			errs = append(errs, ap.SetAccessPointEnabled(ctx, true), ap.SetClientLimit(ctx, limit))
		}
	}
	return errors.Join(errs...)
}
