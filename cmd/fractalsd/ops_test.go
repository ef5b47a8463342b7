package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/firmware"
)

func buildDaemon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fractalsd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// daemonProc is a running fractalsd and what it logged.
type daemonProc struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	log  strings.Builder
}

func startDaemon(t *testing.T, bin string, args ...string) *daemonProc {
	t.Helper()
	p := &daemonProc{cmd: exec.Command(bin, append([]string{"--listen", "127.0.0.1:0", "--cycle", "100ms"}, args...)...)}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	p.cmd.Stderr = &stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
	addrRe := regexp.MustCompile(`msg="api listening" addr=(\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := addrRe.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case p.addr = <-found:
	case <-time.After(20 * time.Second):
		t.Fatalf("no API address; stderr %s", stderr.String())
	}
	return p
}

func (p *daemonProc) logged() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

type statusView struct {
	Cycles int                `json:"cycles"`
	Energy map[string]float64 `json:"energy_wh"`
	State  struct {
		Mode string `json:"mode"`
		Safe bool   `json:"safe"`
	} `json:"state"`
	Commands struct {
		PCCClosed bool `json:"pcc_closed"`
	} `json:"commands"`
}

func (p *daemonProc) status(t *testing.T) statusView {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st statusView
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSIGKILLKeepsEnergyCountersWithinOneWriteInterval kills a real daemon mid-run without warning and
// starts it again on the same data directory: its counters go on from at most one state write
// interval (1 s here) before the kill, and it comes back in a consistent, healthy state.
func TestSIGKILLKeepsEnergyCountersWithinOneWriteInterval(t *testing.T) {
	bin := buildDaemon(t)
	dir := t.TempDir()
	ops := filepath.Join(dir, "ops.yaml")
	if err := os.WriteFile(ops, []byte("data_dir: "+filepath.Join(dir, "data")+"\ntelemetry:\n  state_every: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := startDaemon(t, bin, "--telemetry", ops)
	began := time.Now()
	time.Sleep(3500 * time.Millisecond)
	before := first.status(t)
	ranFor := time.Since(began)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	load := before.Energy["load"]
	if load <= 0 || before.Cycles < 20 {
		t.Fatalf("before the kill: %+v", before)
	}
	// The counter's rate over the run bounds what one write interval (plus the cycles between the
	// status read and the kill) can hold.
	rate := load / ranFor.Seconds()
	allowed := rate * (1.0 + 0.3)

	second := startDaemon(t, bin, "--telemetry", ops)
	if !strings.Contains(second.logged(), "state restored") {
		time.Sleep(300 * time.Millisecond)
	}
	after := second.status(t)
	restored := after.Energy["load"]
	if restored < load-allowed || restored > load+allowed {
		t.Fatalf("load counter %.4f Wh after restart, %.4f Wh before the kill (allowed loss %.4f Wh)", restored, load, allowed)
	}
	for k, v := range before.Energy {
		if after.Energy[k] < v-rate*10 { // every counter came back, not only load
			t.Errorf("%s: %.4f after restart, %.4f before", k, after.Energy[k], v)
		}
	}
	if !strings.Contains(second.logged(), "state restored") {
		t.Fatalf("no 'state restored' in the log:\n%s", second.logged())
	}
	time.Sleep(time.Second)
	later := second.status(t)
	if later.Energy["load"] <= restored || later.State.Mode == "" {
		t.Fatalf("counters did not go on: %.4f then %.4f; state %+v", restored, later.Energy["load"], later.State)
	}
	resp, err := http.Get("http://" + second.addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after restart: %v %v", resp, err)
	}
	resp.Body.Close()
	t.Logf("load %.4f Wh at kill, %.4f Wh restored (%.4f Wh lost, bound %.4f Wh)", load, restored, load-restored, allowed)
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

func TestCheckConfig(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"--check-config", "../../firmware/config/testdata/unit.yaml"}, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\ndata_dir: relative\ndevices: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errs.Reset()
	if code := checkConfig(bad, &out, &errs); code != 1 || !strings.Contains(errs.String(), "bad.yaml:2: data_dir:") {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
}

func TestFootprintPrintsRSS(t *testing.T) {
	var out, errs bytes.Buffer
	o := firmware.DefaultSimOptions()
	if code := footprint(o, opsFlags{footprint: 10 * time.Minute}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if !regexp.MustCompile(`footprint: 600 cycles \(10m0s simulated\) in [0-9.]+ s: rss [0-9.]+ MB, peak rss [0-9.]+ MB`).MatchString(out.String()) ||
		!regexp.MustCompile(`rss now [0-9.]+ MB anonymous \+ [0-9.]+ MB file-backed`).MatchString(out.String()) {
		t.Fatalf("output %q", out.String())
	}
}
