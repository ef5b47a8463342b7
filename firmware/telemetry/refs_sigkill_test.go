package telemetry

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

// helperDirEnv, when set, makes the test binary run the unit of TestRefsSurviveSIGKILL instead of
// the tests (TestMain), in that data directory.
const helperDirEnv = "FRACTALS_TELEMETRY_REFS_UNIT"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperDirEnv); dir != "" {
		if err := runRefsUnit(dir, os.Stdin, os.Stdout); err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// committedNetExchange is the market commitment the killed unit follows.
const committedNetExchange = units.Watts(1234)

// opsSetup is the operations setup of the unit in dir: a state file written every 100 ms.
func opsSetup(dir string) Setup {
	off := false
	return Setup{UnitName: "refs-unit", DataDir: filepath.Join(dir, "data"),
		Telemetry: &config.Telemetry{StateEvery: 100 * time.Millisecond, Prometheus: &off}}
}

// runRefsUnit is the unit the test kills: a simulated daemon with unit A's ledger (its partner B
// in the same process, both on a simulated chain) and a state file, following a market commitment.
// It pays B once, says PAID and waits for a line on stdin (the test copies A's ledger store
// meanwhile), pays twice more, and once the state file holds the ledger's latest nonces says
// RECORDED <own nonce> and runs until it is killed.
func runRefsUnit(dir string, stdin io.Reader, stdout io.Writer) error {
	c, err := newTestChain()
	if err != nil {
		return err
	}
	a, b, err := c.startPair(filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db"))
	if err != nil {
		return err
	}
	o := firmware.DefaultSimOptions()
	o.Step = 100 * time.Millisecond
	d, err := firmware.NewSimDaemon(o, clock.Real{}, nil)
	if err != nil {
		return err
	}
	d.AttachLedger(a)
	ops, err := Start(d, opsSetup(dir))
	if err != nil {
		return err
	}
	now := time.Now()
	period := now.Truncate(15 * time.Minute)
	d.Unit().SetSchedule(fractals.Schedule{Start: period, End: period.Add(15 * time.Minute), NetExchange: committedNetExchange})
	go func() { _ = d.Run(context.Background(), nil) }()
	ctx := context.Background()
	if err := a.Pay(ctx, b.Address(), 10, 1); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "PAID")
	if _, err := bufio.NewReader(stdin).ReadString('\n'); err != nil {
		return err
	}
	for id := uint64(2); id <= 3; id++ {
		if err := a.Pay(ctx, b.Address(), 10, id); err != nil {
			return err
		}
	}
	want := a.Node().Channel(b.Address()).OwnNonce
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r, ok, err := ops.Store.LedgerRef()
		if err != nil {
			return err
		}
		if ok && len(r.Channels) == 1 && r.Channels[0].OwnNonce == want {
			fmt.Fprintln(stdout, "RECORDED", want)
			select {} // until SIGKILL
		}
	}
	return fmt.Errorf("the state file never recorded own nonce %d", want)
}

// TestRefsSurviveSIGKILL kills a unit with a ledger and a market commitment mid-run and restarts
// its parts on the same files: the state file holds the commitment, the ledger's store, account and
// latest nonces as they were; the restarted unit follows the commitment again and accepts its
// ledger store; the same unit on an older copy of its ledger store refuses to start.
func TestRefsSurviveSIGKILL(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	var recordedNonce uint64
	for recordedNonce == 0 {
		if !lines.Scan() {
			t.Fatalf("the unit ended before recording its nonces: %v", lines.Err())
		}
		line := lines.Text()
		switch {
		case line == "PAID":
			copyStore(t, filepath.Join(dir, "a.db"), filepath.Join(dir, "a-after-one-payment.db"))
			fmt.Fprintln(stdin)
		case strings.HasPrefix(line, "RECORDED "):
			fmt.Sscan(strings.TrimPrefix(line, "RECORDED "), &recordedNonce)
		default:
			t.Log("unit:", line)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	store, _, err := firmware.OpenStateStore(filepath.Join(dir, "data"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m, errM := store.MarketRef()
	r, ok, errL := store.LedgerRef()
	store.Close()
	if errM != nil || m == nil || m.Schedule.NetExchange != committedNetExchange || m.Interval != m.Schedule.Start.Unix() {
		t.Fatalf("market ref %+v, %v: want the commitment of %v", m, errM, committedNetExchange)
	}
	if errL != nil || !ok || r.Store != filepath.Join(dir, "a.db") || len(r.Channels) != 1 || r.Channels[0].OwnNonce != recordedNonce ||
		r.Channels[0].Sent != 30 {
		t.Fatalf("ledger ref %+v (%v, %v): want store a.db, one channel, own nonce %d, 30 sent", r, ok, errL, recordedNonce)
	}

	// The restart: the same stores, a fresh chain (the killed one lived in the unit's memory).
	restart := func(storeA string) (*Ops, *firmware.Daemon, error) {
		c, err := newTestChain()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.sim.Close() })
		listen, _ := freeLoopback()
		peerAt, _ := freeLoopback()
		a, err := c.startLedger(keyA, keyB, storeA, listen, peerAt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Shutdown() })
		d, err := firmware.NewSimDaemon(firmware.DefaultSimOptions(), clock.Real{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		d.AttachLedger(a)
		ops, err := Start(d, opsSetup(dir))
		return ops, d, err
	}
	ops, d, err := restart(filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatalf("restart on the unit's own store: %v", err)
	}
	if got := d.Unit().Status().State.Schedule; got.NetExchange != committedNetExchange || !got.End.Equal(m.Schedule.End) {
		t.Errorf("restarted unit follows %+v, want the recorded commitment %+v", got, m.Schedule)
	}
	if now, _ := d.LedgerRefs(); len(now.Channels) != 1 || now.Channels[0].OwnNonce != recordedNonce {
		t.Errorf("restarted ledger %+v, want own nonce %d", now, recordedNonce)
	}
	d.StopObservers()
	ops.Close()

	_, _, err = restart(filepath.Join(dir, "a-after-one-payment.db"))
	if err == nil || !strings.Contains(err.Error(), "older than the unit's last state write") {
		t.Fatalf("restart on an older copy of the ledger store: %v, want a refusal", err)
	}
	t.Log(err)
}

// copyStore copies a ledger store as a backup would: its bbolt file and the write-ahead logs beside it
// (ledger/store keeps the latest commits in <path>.wal until it checkpoints them).
func copyStore(t *testing.T, from, to string) {
	t.Helper()
	copyFile(t, from, to)
	for _, side := range []string{".wal", ".wal.old"} {
		if _, err := os.Stat(from + side); err == nil {
			copyFile(t, from+side, to+side)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	raw, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}
