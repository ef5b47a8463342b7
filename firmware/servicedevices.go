package firmware

import (
	"fmt"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/hostapd"
	"github.com/fractals-energy/fractals/firmware/config"
)

// driver builds a device of a registered driver (one that owns its configuration, der.Register)
// and puts what it offers where its roles say.
func (b *builder) driver(d *config.Device) error {
	if d.Driver == nil {
		return fmt.Errorf("protocol %s: the configuration was not checked by its driver", d.Protocol)
	}
	o, err := d.Driver.Open(der.Env{Name: d.Name, Unit: b.u.Name, Cycle: b.cc.Cycle, Clock: b.clk, Log: b.log,
		Shared: b.shared})
	if err != nil {
		return err
	}
	if o.Closer != nil {
		b.hw.services = append(b.hw.services, o.Closer)
	}
	for _, r := range d.Roles {
		if err := b.place(der.Role(r), o); err != nil {
			return err
		}
	}
	return nil
}

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
	default:
		k, isLoad := r.Load()
		if !isLoad {
			return fmt.Errorf("role %s: not offered by registered drivers yet", r)
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
		if c, ok := d.Driver.(*hostapd.Config); ok {
			lim.FullClients, lim.ReducedClients = c.Limit(), max(1, c.Limit()/8)
		}
	}
	return lim
}
