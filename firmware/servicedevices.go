package firmware

import (
	"github.com/fractals-energy/fractals/der/hostapd"
	"github.com/fractals-energy/fractals/der/storagenode"
	"github.com/fractals-energy/fractals/firmware/config"
)

// defaultClientLimit is the access point's full client limit when the file does not say.
const defaultClientLimit = 64

// hostapd builds the access point on its control socket (connected on first use, so a hostapd that
// starts after the daemon is found).
func (b *builder) hostapd(d *config.Device) error {
	limit := d.ClientLimit
	if limit == 0 {
		limit = defaultClientLimit
	}
	c := hostapd.New(d.ControlSocket, "", b.cc.Cycle)
	b.hw.services = append(b.hw.services, c)
	b.hw.AccessPoint = &hostapd.AP{C: c, Limit: limit}
	return nil
}

// storagenode builds the IGFS storage node on its HTTP API.
func (b *builder) storagenode(d *config.Device) error {
	b.hw.StorageNode = &storagenode.Node{BaseURL: d.URL}
	return nil
}

// ServiceLimitsOf are the access point's limits as the unit file gives them (the full limit; the
// reduced one is an eighth of it, at least one client).
func ServiceLimitsOf(u *config.Unit) ServiceLimits {
	lim := DefaultServiceLimits
	for _, d := range u.Devices {
		if d.Protocol == "hostapd" && d.ClientLimit > 0 {
			lim.FullClients, lim.ReducedClients = d.ClientLimit, max(1, d.ClientLimit/8)
		}
	}
	return lim
}
