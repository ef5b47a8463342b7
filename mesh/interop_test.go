//go:build interop

package mesh

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// devp2pTool finds go-ethereum's devp2p command on PATH or in the Go bin directory.
func devp2pTool(t *testing.T) string {
	if p, err := exec.LookPath("devp2p"); err == nil {
		return p
	}
	gobin := os.Getenv("GOBIN")
	if gobin == "" {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err == nil {
			gobin = filepath.Join(strings.TrimSpace(string(out)), "bin")
		}
	}
	if p := filepath.Join(gobin, "devp2p"); gobin != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("go-ethereum's devp2p tool not found: go install github.com/ethereum/go-ethereum/cmd/devp2p@v1.16.9")
	return ""
}

func devp2p(t *testing.T, tool string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, args...).CombinedOutput()
	t.Logf("devp2p %s:\n%s", strings.Join(args, " "), out)
	if err != nil {
		t.Fatalf("devp2p %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// TestInteropDevp2pTool: go-ethereum's own tool completes an RLPx handshake with our node (and reads
// the fractals capability in its hello), pings it over discovery v5 and resolves its record, which
// carries the community entry.
func TestInteropDevp2pTool(t *testing.T) {
	tool := devp2pTool(t)
	n := startNode(t, SeededKey(42, 0), "127.0.0.1:0", func(c *NodeConfig) { c.Discovery = true })
	enr := n.ENR()

	hello := devp2p(t, tool, "rlpx", "ping", n.Enode().URLv4())
	if !strings.Contains(hello, "fractals") || !strings.Contains(hello, "Version:5") {
		t.Fatalf("rlpx hello does not show devp2p v5 with the fractals capability: %s", hello)
	}
	devp2p(t, tool, "discv5", "ping", enr)
	resolved := strings.TrimSpace(devp2p(t, tool, "discv5", "resolve", enr))
	dump := devp2p(t, tool, "enrdump", resolved[strings.LastIndex(resolved, "enr:"):])
	if !strings.Contains(dump, "fractals") {
		t.Fatalf("resolved record has no fractals entry: %s", dump)
	}
}
