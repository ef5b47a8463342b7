package mesh

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/p2p/enode"
)

// BenchmarkGossip50Loopback: one broadcast from one node until the last of 50 real devp2p nodes on
// loopback delivered it (ns/op is the time to the last node).
func BenchmarkGossip50Loopback(b *testing.B) {
	const n = 50
	nodes := staticMesh(b, n, RingWithChords(n, 2, 1, n))
	subs := make([]Subscription, n)
	for i, nd := range nodes {
		// The benchmark is one author broadcasting as fast as the mesh carries it: no budgets.
		nd.opt.AuthorRateMsgs, nd.opt.AuthorBurstMsgs = 1e9, 1e9
		nd.opt.RateMsgs, nd.opt.BurstMsgs = 1e9, 1e9
		subs[i] = nd.Subscribe(CodeGossip)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		payload := []byte(strconv.Itoa(i))
		if err := nodes[0].Broadcast(CodeGossip, payload); err != nil {
			b.Fatal(err)
		}
		for j := 1; j < n; j++ {
			for m := range subs[j].C() {
				if string(m.Payload) == string(payload) {
					break
				}
			}
		}
	}
}

// BenchmarkMemGossipCostPerNode: link messages and bytes each node sends per community-wide
// broadcast, by community size and neighbour count, on the in-memory mesh.
func BenchmarkMemGossipCostPerNode(b *testing.B) {
	for _, c := range []struct{ n, k, chords int }{{100, 4, 1}, {1000, 4, 1}, {100, 8, 2}, {1000, 8, 2}, {1000, 16, 4}} {
		b.Run(fmt.Sprintf("units=%d/ring=%d/chords=%d", c.n, c.k, c.chords), func(b *testing.B) {
			cm := newCommunity(b, c.n, RingWithChords(c.n, c.k, c.chords, 1), LinkProfile{Latency: 5 * time.Millisecond}, 1)
			degree := 0
			for _, nd := range cm.nodes {
				degree += len(cm.net.Neighbours(nd.Self()))
			}
			var msgs, bytes uint64
			for i := 0; b.Loop(); i++ {
				before := cm.net.Stats()
				if err := cm.nodes[i%c.n].Broadcast(CodeGossip, make([]byte, 200)); err != nil {
					b.Fatal(err)
				}
				cm.net.Settle(cm.clk.Now().Add(time.Hour))
				after := cm.net.Stats()
				msgs += after.Sent - before.Sent
				bytes += after.Bytes - before.Bytes
				cm.drain()
			}
			runs := float64(b.N) * float64(c.n)
			b.ReportMetric(float64(degree)/float64(c.n), "neighbours/node")
			b.ReportMetric(float64(msgs)/runs, "msgs/node/broadcast")
			b.ReportMetric(float64(bytes)/runs, "bytes/node/broadcast")
		})
	}
}

// BenchmarkNodeRSS50Peers measures the resident memory of one node process linked to 50 peers: the
// node runs in a child process (this test binary again) so the peers' memory is not counted.
func BenchmarkNodeRSS50Peers(b *testing.B) {
	for b.Loop() {
		b.ReportMetric(rssWithPeers(b, 50), "rss_MiB")
	}
}

func rssWithPeers(b *testing.B, peers int) float64 {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHubProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "FRACTALS_MESH_HUB=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(out)
	var hub *enode.Node
	for lines.Scan() {
		if url, ok := strings.CutPrefix(lines.Text(), "HUB "); ok {
			if hub, err = enode.ParseV4(url); err != nil {
				b.Fatal(err)
			}
			break
		}
	}
	if hub == nil {
		b.Fatal("hub process printed no enode")
	}
	for i := range peers {
		n := startNode(b, SeededKey(500, i), "127.0.0.1:0", nil)
		n.AddPeer(hub)
	}
	fmt.Fprintf(in, "%d\n", peers)
	for lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "RSS_KB "); ok {
			kb, _ := strconv.Atoi(v)
			return float64(kb) / 1024
		}
	}
	b.Fatal("hub process printed no RSS")
	return 0
}

// TestHubProcess is the child of BenchmarkNodeRSS50Peers; it does nothing in a normal test run.
func TestHubProcess(t *testing.T) {
	if os.Getenv("FRACTALS_MESH_HUB") != "1" {
		return
	}
	hub := startNode(t, SeededKey(501, 0), "127.0.0.1:0", func(c *NodeConfig) { c.MaxPeers = 100 })
	fmt.Printf("HUB %s\n", hub.Enode().URLv4())
	var peers int
	if _, err := fmt.Scan(&peers); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "peers never all linked", func() bool { return hub.PeerCount() >= peers })
	for i := range 100 { // some traffic, so buffers and windows are in use
		_ = hub.Broadcast(CodeTelemetry, make([]byte, 500+i))
	}
	time.Sleep(time.Second)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status on this system")
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			fmt.Printf("RSS_KB %s\n", strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
}
