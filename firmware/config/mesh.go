package config

import (
	"net"
	"path/filepath"
	"strconv"

	"github.com/ethereum/go-ethereum/p2p/enode"
)

// Mesh is the unit's devp2p mesh node.
type Mesh struct {
	Listen    string   `yaml:"listen"`    // TCP and UDP host:port, e.g. 0.0.0.0:30303
	KeyFile   string   `yaml:"key_file"`  // the unit's secp256k1 key; created 0600 when absent
	Community string   `yaml:"community"` // units of another community are refused
	Static    []string `yaml:"static"`    // enode URLs dialled and redialled
	Trusted   []string `yaml:"trusted"`   // enode URLs admitted over max_peers
	Discovery bool     `yaml:"discovery"` // discovery v5 on the listen address
	Bootnodes []string `yaml:"bootnodes"` // enr: or enode:// records to start discovery from
	MaxPeers  int      `yaml:"max_peers"` // default 50
	// ReplayFile keeps the replay windows across restarts; default mesh-windows beside key_file.
	ReplayFile string `yaml:"replay_file"`
}

// ReplayFileName is the replay file's name beside the key file when replay_file is not given.
const ReplayFileName = "mesh-windows"

// Limits of the mesh section.
const (
	maxCommunityLen = 64
	maxMeshPeers    = 1000
	defaultMeshPeer = 50
)

func (v *validator) mesh(m *Mesh) {
	if m == nil {
		return
	}
	if m.Listen == "" {
		m.Listen = "0.0.0.0:30303"
	}
	if host, port, err := net.SplitHostPort(m.Listen); err != nil {
		v.fail(p("mesh", "listen"), "%q: want host:port", m.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.fail(p("mesh", "listen"), "port %q: want 0..65535", port)
	} else if host != "" && net.ParseIP(host) == nil {
		v.fail(p("mesh", "listen"), "host %q: want an IP address", host)
	}
	switch {
	case m.Community == "":
		v.fail(p("mesh", "community"), "missing: the community id the unit belongs to")
	case len(m.Community) > maxCommunityLen:
		v.fail(p("mesh", "community"), "%d bytes, at most %d", len(m.Community), maxCommunityLen)
	}
	if m.KeyFile == "" {
		// Without a file the unit would be a new identity on every boot: its neighbours' static
		// enode URLs would stop matching and its ledger address would change.
		v.fail(p("mesh", "key_file"), "missing: the file of the unit's key (created 0600 when absent), so the unit keeps one identity across restarts")
	} else if m.ReplayFile == "" {
		m.ReplayFile = filepath.Join(filepath.Dir(m.KeyFile), ReplayFileName)
	}
	v.enodes("static", m.Static)
	v.enodes("trusted", m.Trusted)
	v.enodes("bootnodes", m.Bootnodes)
	if len(m.Bootnodes) > 0 && !m.Discovery {
		v.fail(p("mesh", "bootnodes"), "bootnodes need discovery: true")
	}
	if m.MaxPeers == 0 {
		m.MaxPeers = defaultMeshPeer
	} else if m.MaxPeers < 1 || m.MaxPeers > maxMeshPeers {
		v.fail(p("mesh", "max_peers"), "%d outside 1..%d", m.MaxPeers, maxMeshPeers)
	}
}

func (v *validator) enodes(field string, urls []string) {
	for i, u := range urls {
		if _, err := enode.Parse(enode.ValidSchemes, u); err != nil {
			v.fail(p("mesh", field, i), "%v", err)
		}
	}
}

// Nodes parses enode URLs or ENR records that validation accepted.
func Nodes(urls []string) ([]*enode.Node, error) {
	out := make([]*enode.Node, 0, len(urls))
	for _, u := range urls {
		n, err := enode.Parse(enode.ValidSchemes, u)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}
