package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/hil/rig"
)

func TestBadFlagsExitTwoWithOneLine(t *testing.T) {
	for _, args := range [][]string{{"--speed", "0"}, {"--tick", "1h"}, {"--start", "noon"}, {"--broker", "mqtt.example:1883"},
		{"--latitude", "80"}, {"--outage", "50s-30s"}, {"--outage", "soon"}, {"--cycle", "1ms"}, {"stray"}} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, io.Discard, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n"); lines != 0 || stderr.Len() == 0 {
			t.Errorf("%v: want one line, got %q", args, stderr.String())
		}
	}
}

// TestServesAndPrintsDevices runs the rig, reads its JSON lines, checks the truth endpoint and the
// unit file it writes (which the daemon's configuration loader must accept), then stops it.
func TestServesAndPrintsDevices(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	unitFile := filepath.Join(t.TempDir(), "unit.yaml")
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--speed", "100", "--write-config", unitFile, "--cycle", "500ms"}, pw, os.Stderr)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var infos []rig.DeviceInfo
	for sc.Scan() {
		var d rig.DeviceInfo
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		infos = append(infos, d)
		if d.Device == "rig" {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if len(infos) < 2 || infos[0].Device != "inverter" || infos[0].Protocol != "sunspec" || infos[0].Unit != 1 ||
		infos[0].Models[0] != 1 || infos[0].Models[1] != 103 {
		t.Fatalf("first line %+v", infos)
	}
	resp, err := http.Get("http://" + infos[len(infos)-1].Addr + "/truth")
	if err != nil {
		t.Fatal(err)
	}
	var tr rig.Truth
	err = json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	if err != nil || tr.SoC <= 0 {
		t.Fatalf("truth %+v %v", tr, err)
	}
	u, err := config.Load(unitFile)
	if err != nil {
		t.Fatalf("the unit file the rig wrote does not load: %v", err)
	}
	if u.Cycle != 500*time.Millisecond || len(u.Devices) < 8 || u.PinServer == nil {
		t.Fatalf("unit %+v", u)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
}
