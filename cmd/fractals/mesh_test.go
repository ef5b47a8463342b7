package main

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/internal/clock"
)

func TestMeshCommandPrintsARunningDaemonsMesh(t *testing.T) {
	nodes, err := firmware.StartLoopbackCommunity(2, "cli-test")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		defer n.Close()
	}
	d, err := firmware.NewSimDaemon(firmware.DefaultSimOptions(), clock.NewSim(time.Date(2026, 6, 21, 0, 0, 0, 0, time.UTC)), nil)
	if err != nil {
		t.Fatal(err)
	}
	d.AttachMesh(nodes[0])
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	deadline := time.Now().Add(10 * time.Second)
	for nodes[0].PeerCount() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("loopback community never linked")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"mesh", "--api", srv.URL}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	text := out.String()
	if !strings.Contains(text, nodes[0].Self().Hex()) || !strings.Contains(text, nodes[1].Self().Hex()) || !strings.Contains(text, "cli-test") {
		t.Fatalf("table misses self, peer or community:\n%s", text)
	}
	out.Reset()
	if code := dispatch([]string{"mesh", "--api", srv.URL, "--json"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var st firmware.MeshStatus
	if err := json.Unmarshal(out.Bytes(), &st); err != nil || st.Address != nodes[0].Self() || len(st.Peers) != 1 {
		t.Fatalf("json %v: %s", err, out.String())
	}
	if code := dispatch([]string{"mesh", "--api", "nowhere"}, nil, &out, &errOut); code != 2 {
		t.Fatalf("bad --api: exit %d", code)
	}
	if code := dispatch([]string{"mesh", "--api", "http://127.0.0.1:1"}, nil, &out, &errOut); code != 1 {
		t.Fatalf("no daemon: exit %d", code)
	}
}
