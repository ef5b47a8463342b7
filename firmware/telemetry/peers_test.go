package telemetry

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/internal/clock"
)

var t0 = time.Date(2026, 6, 21, 10, 0, 0, 0, time.UTC)

// simDaemon is the default simulated unit on a simulated clock, ticked by the test.
func simDaemon(t testing.TB) (*firmware.Daemon, *clock.Sim) {
	t.Helper()
	clk := clock.NewSim(t0)
	d, err := firmware.NewSimDaemon(firmware.DefaultSimOptions(), clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d, clk
}

func tick(d *firmware.Daemon, clk *clock.Sim, n int) {
	for i := 0; i < n; i++ {
		clk.Advance(d.Cycle())
		d.Tick(context.Background())
	}
}

// peer finds a program we did not write, or skips the test with how to install it.
func peer(t *testing.T, name, hint string, also ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range also {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("%s not installed: %s", name, hint)
	return ""
}

// freePort asks the kernel for a free loopback port (for peers that cannot report the port they got).
func freePort(t *testing.T) int { return freePortB(t) }

func freePortB(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitTCP waits until addr accepts connections.
func waitTCP(t *testing.T, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not listening after %v", addr, within)
}

// startInfluxd runs a real influxd 1.8 with its data in a temporary directory on loopback port port.
func startInfluxd(t *testing.T, port int) *exec.Cmd {
	t.Helper()
	bin := peer(t, "influxd", "go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10",
		filepath.Join(os.Getenv("HOME"), "go", "bin", "influxd"))
	dir := t.TempDir()
	cmd := exec.Command(bin, "run")
	cmd.Env = append(os.Environ(),
		"INFLUXDB_REPORTING_DISABLED=true",
		"INFLUXDB_BIND_ADDRESS=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"INFLUXDB_HTTP_BIND_ADDRESS=127.0.0.1:"+strconv.Itoa(port),
		"INFLUXDB_HTTP_LOG_ENABLED=false",
		"INFLUXDB_META_DIR="+filepath.Join(dir, "meta"),
		"INFLUXDB_DATA_DIR="+filepath.Join(dir, "data"),
		"INFLUXDB_DATA_WAL_DIR="+filepath.Join(dir, "wal"),
		"INFLUXDB_DATA_QUERY_LOG_ENABLED=false",
		"INFLUXDB_MONITOR_STORE_ENABLED=false")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitTCP(t, "127.0.0.1:"+strconv.Itoa(port), 20*time.Second)
	return cmd
}
