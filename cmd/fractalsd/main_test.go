package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemonServesStatusAndStopsCleanlyOnInterrupt runs the real binary, reads its API address from
// its log, asks for the status, then sends Ctrl-C (SIGINT) and expects a clean exit.
func TestDaemonServesStatusAndStopsCleanlyOnInterrupt(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fractalsd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--cycle", "100ms")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	addrRe := regexp.MustCompile(`msg="api listening" addr=(\S+)`)
	var addr string
	cycles := 0
	for lines.Scan() && (addr == "" || cycles < 3) {
		if m := addrRe.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
		if strings.Contains(lines.Text(), "msg=cycle") {
			cycles++
		}
	}
	if addr == "" {
		t.Fatalf("no API address in the log; stderr: %s", stderr.String())
	}
	resp, err := http.Get("http://" + addr + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Cycles   int            `json:"cycles"`
		Snapshot map[string]any `json:"snapshot"`
		Commands map[string]any `json:"commands"`
		Energy   map[string]any `json:"energy_wh"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Cycles < 3 || st.Snapshot["soc"] == nil || st.Commands["battery_power"] == nil || st.Energy == nil {
		t.Fatalf("status %+v, err %v", st, err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var rest strings.Builder
	go func() {
		for lines.Scan() { // to EOF: the pipe closes when the process exits
			rest.WriteString(lines.Text() + "\n")
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v; stderr %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit 10 s after SIGINT")
	}
	if !strings.Contains(rest.String(), "stopped cleanly") {
		t.Fatalf("no clean-stop line after SIGINT:\n%s", rest.String())
	}
}

func TestBadFlagsExit2WithOneLineNamingTheFlag(t *testing.T) {
	cases := map[string][]string{
		"--cycle":       {"--cycle", "1ms"},
		"--log-format":  {"--log-format", "xml"},
		"--battery-kwh": {"--battery-kwh", "-1"},
		"--listen":      {"--listen", "127.0.0.1:99999"},
		"nope":          {"--nope"},
		"stray":         {"stray"},
	}
	for name, args := range cases {
		var errOut bytes.Buffer
		code := run(args, &errOut)
		msg := errOut.String()
		if code != 2 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, name) {
			t.Errorf("%v: exit %d, %q: want exit 2 and one line naming %s", args, code, msg, name)
		}
	}
}
