package firmware

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/mesh"
)

// LocalCommunity is the community of a unit started without a mesh section.
const LocalCommunity = "local"

// MeshStatus is what GET /api/mesh returns and `fractals mesh` prints.
type MeshStatus struct {
	Address   mesh.Address    `json:"address"`
	Enode     string          `json:"enode"`
	ENR       string          `json:"enr"`
	Community string          `json:"community"`
	Peers     []mesh.PeerInfo `json:"peers"`
	Counters  mesh.Counters   `json:"counters"`
}

// MeshStatusOf reads a node's status.
func MeshStatusOf(n *mesh.Node) MeshStatus {
	return MeshStatus{Address: n.Self(), Enode: n.Enode().URLv4(), ENR: n.ENR(), Community: n.Community(),
		Peers: n.Peers(), Counters: n.Stats()}
}

// StartMesh starts the unit's devp2p node from its mesh section. A nil section starts a node on
// 127.0.0.1:0 with an in-memory key, no peers and no discovery: cheap, and enough to show the API.
func StartMesh(m *config.Mesh, log *slog.Logger) (*mesh.Node, error) {
	if m == nil {
		m = &config.Mesh{Listen: "127.0.0.1:0", Community: LocalCommunity, MaxPeers: 50}
	}
	key, err := LoadOrCreateKey(m.KeyFile)
	if err != nil {
		return nil, err
	}
	static, err := config.Nodes(m.Static)
	if err != nil {
		return nil, fmt.Errorf("mesh: static: %w", err)
	}
	trusted, err := config.Nodes(m.Trusted)
	if err != nil {
		return nil, fmt.Errorf("mesh: trusted: %w", err)
	}
	boot, err := config.Nodes(m.Bootnodes)
	if err != nil {
		return nil, fmt.Errorf("mesh: bootnodes: %w", err)
	}
	n, err := mesh.NewNode(mesh.NodeConfig{Key: key, Listen: m.Listen, Static: static, Trusted: trusted,
		Discovery: m.Discovery, Bootnodes: boot, MaxPeers: m.MaxPeers, Clock: clock.Real{},
		Options: mesh.DefaultOptions(m.Community), ReplayFile: m.ReplayFile, Log: log})
	if err != nil {
		return nil, err
	}
	if log != nil {
		log.Info("mesh node up", "address", n.Self().Hex(), "enode", n.Enode().URLv4(), "community", m.Community,
			"static", len(static), "discovery", m.Discovery, "replay_file", m.ReplayFile)
	}
	return n, nil
}

// StartConfiguredMesh starts the mesh of the unit file at path (none when it has no mesh section),
// or the local no-peer mesh when path is empty.
func StartConfiguredMesh(path string, log *slog.Logger) (*mesh.Node, error) {
	if path == "" {
		return StartMesh(nil, log)
	}
	u, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if u.Mesh == nil {
		return nil, nil
	}
	return StartMesh(u.Mesh, log)
}

// StartLoopbackCommunity starts n mesh nodes on 127.0.0.1, each with an in-memory key, all in one
// community and each linked to every other by a static peer, for demos and tests of several units
// in one place. The caller closes them.
func StartLoopbackCommunity(n int, community string) ([]*mesh.Node, error) {
	nodes := make([]*mesh.Node, 0, n)
	for range n {
		m := &config.Mesh{Listen: "127.0.0.1:0", Community: community, MaxPeers: max(50, n)}
		for _, prev := range nodes {
			m.Static = append(m.Static, prev.Enode().URLv4())
		}
		node, err := StartMesh(m, nil)
		if err != nil {
			for _, x := range nodes {
				x.Close()
			}
			return nil, err
		}
		nodes = append(nodes, node)
	}
	return nodes, nil
}

// AttachMesh makes the daemon serve the node's status on /api/mesh.
func (d *Daemon) AttachMesh(n *mesh.Node) { d.mesh = n }

func (d *Daemon) serveMesh(w http.ResponseWriter, _ *http.Request) {
	if d.mesh == nil {
		http.Error(w, "this unit runs no mesh node (no mesh section in its unit file)", http.StatusNotFound)
		return
	}
	writeJSON(w, MeshStatusOf(d.mesh))
}
