package firmware

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/mesh"
)

func TestMeshAPIShowsSelfAndPeersOfALoopbackCommunity(t *testing.T) {
	nodes, err := StartLoopbackCommunity(3, "api-test")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		defer n.Close()
	}
	d, _ := newTestDaemon(t)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	if resp, err := http.Get(srv.URL + "/api/mesh"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("without a mesh: %v %v", resp, err)
	}
	d.AttachMesh(nodes[0])
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := nodes[1].Broadcast(mesh.CodeGossip, []byte("hello api")); err != nil {
			t.Fatal(err)
		}
		st := getMesh(t, srv.URL)
		if len(st.Peers) == 2 && st.Peers[0].Connected && st.Peers[1].Connected && st.Peers[0].RTT > 0 && st.Peers[1].RTT > 0 && st.Counters.Delivered > 0 {
			if st.Address != nodes[0].Self() || !strings.HasPrefix(st.Enode, "enode://") || !strings.HasPrefix(st.ENR, "enr:") || st.Community != "api-test" {
				t.Fatalf("self %+v", st)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mesh status never showed two linked peers with RTT and traffic: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getMesh(t *testing.T, url string) MeshStatus {
	t.Helper()
	resp, err := http.Get(url + "/api/mesh")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st MeshStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestStartConfiguredMeshFromAUnitFile(t *testing.T) {
	base, err := os.ReadFile("config/testdata/unit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "unit.yaml")
	keyFile := filepath.Join(dir, "unit.key")
	section := "\nmesh:\n  listen: 127.0.0.1:0\n  community: file-test\n  key_file: " + keyFile + "\n"
	if err := os.WriteFile(path, append(base, section...), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := StartConfiguredMesh(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	key, err := LoadOrCreateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if n.Community() != "file-test" || n.Enode().Pubkey().X.Cmp(key.PublicKey.X) != 0 {
		t.Fatalf("node %s of %q is not the unit file's key and community", n.Enode(), n.Community())
	}
	n.Close() // writes the replay windows beside the key file
	if _, err := os.Stat(filepath.Join(dir, config.ReplayFileName)); err != nil {
		t.Fatalf("no replay file beside the key file after shutdown: %v", err)
	}
	if err := os.WriteFile(path, base, 0o600); err != nil {
		t.Fatal(err)
	}
	if n2, err := StartConfiguredMesh(path, nil); err != nil || n2 != nil {
		t.Fatalf("unit file without a mesh section started %v, %v", n2, err)
	}
}
