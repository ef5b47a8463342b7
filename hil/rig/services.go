package rig

// The unit's own services as the rig serves them: hostapd's control interface and the IGFS
// storage node's HTTP API, started when Config.HostapdSocket is set. Their state is protocol
// state only; the plant's Wi-Fi and storage loads do not follow it.

// Emulated access point defaults: the full client limit and the stations associated.
const (
	rigClientLimit = 64
	rigStations    = 12
)

type services struct {
	ap   *Hostapd
	node *StorageNode
}

func (r *Rig) startServices() error {
	if r.cfg.HostapdSocket == "" {
		return nil
	}
	ap, err := StartHostapd(r.cfg.HostapdSocket, rigClientLimit, rigStations)
	if err != nil {
		return err
	}
	node, err := StartStorageNode("127.0.0.1:0")
	if err != nil {
		ap.Close()
		return err
	}
	r.services = &services{ap: ap, node: node}
	return nil
}

func (r *Rig) closeServices() []error {
	if r.services == nil {
		return nil
	}
	return []error{r.services.ap.Close(), r.services.node.Close()}
}

// Hostapd and StorageNode are the service emulators, nil without Config.HostapdSocket.
func (r *Rig) Hostapd() *Hostapd {
	if r.services == nil {
		return nil
	}
	return r.services.ap
}

func (r *Rig) StorageNode() *StorageNode {
	if r.services == nil {
		return nil
	}
	return r.services.node
}

func (r *Rig) servicesYAML(w func(string, ...any)) {
	if r.services == nil {
		return
	}
	w("  - {name: wifi-ap, protocol: hostapd, roles: [access_point], control_socket: %q, client_limit: %d}", r.cfg.HostapdSocket, rigClientLimit)
	w("  - {name: igfs-node, protocol: storagenode, roles: [storage_node], url: %q}", r.services.node.URL())
}
