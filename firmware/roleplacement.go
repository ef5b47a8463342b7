package firmware

import (
	"fmt"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/firmware/config"
)

// place puts the interface a role needs from an opened device into the hardware.
func (b *builder) place(r der.Role, o der.Opened) error {
	var missing bool
	switch r {
	case der.RolePV:
		b.hw.Devices.PV, missing = o.PV, o.PV == nil
	case der.RoleBattery:
		b.hw.Devices.Battery, missing = o.Battery, o.Battery == nil
	case der.RoleMeter:
		b.hw.Devices.Meter, missing = o.Meter, o.Meter == nil
	case der.RoleAccessPoint:
		b.hw.AccessPoint, missing = o.AccessPoint, o.AccessPoint == nil
	case der.RoleStorageNode:
		b.hw.StorageNode, missing = o.StorageNode, o.StorageNode == nil
	case der.RolePCC:
		b.hw.Devices.PCC, missing = o.Switch, o.Switch == nil
	case der.RoleEV:
		b.hw.Devices.EV, missing = o.EV, o.EV == nil
	case der.RoleGridPresent:
		missing = o.GridPresence == nil // it wraps the meter once every device is open (build)
	case der.RoleDoor, der.RoleFault:
		// inputs for the operator: the driver logs them, the controller does not read them
	default:
		if _, measures := r.LoadPower(); measures {
			_, missing = o.Shares[der.SharedLoadMeter] // the circuit's relay reads it (Opened.Link)
			missing = !missing
			break
		}
		k, isLoad := r.Load()
		if !isLoad || k >= len(b.hw.Devices.Loads) {
			return fmt.Errorf("role %s: the controller has no such role", r)
		}
		b.hw.Devices.Loads[k], missing = o.Load, o.Load == nil
	}
	if missing {
		return fmt.Errorf("role %s: the driver did not open it", r)
	}
	return nil
}

// ServiceLimitsOf are the access point's limits as the unit file gives them (the full limit; the
// reduced one is an eighth of it, at least one client).
func ServiceLimitsOf(u *config.Unit) ServiceLimits {
	lim := DefaultServiceLimits
	for _, d := range u.Devices {
		if c, ok := d.Driver.(der.ClientLimited); ok {
			lim.FullClients, lim.ReducedClients = c.Limit(), max(1, c.Limit()/8)
		}
	}
	return lim
}
