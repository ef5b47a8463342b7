package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/hil/rig"
)

// params shape one end-to-end run.
type params struct {
	cycle    time.Duration // the daemon's control cycle
	speed    float64       // plant seconds per wall second
	healthy  time.Duration // wall time compared cycle by cycle before the fault
	offline  time.Duration // how long the inverter stays silent
	recovery time.Duration // bound on coming back after it answers again
	revert   bool          // check that the inverter's own revert timer idled the battery
	// outage is a utility outage in plant time (hilrig --outage): the controller must island (open
	// the PCC through the GPIO pin server) while the battery forms the grid.
	outage    string
	reconnect bool // the controller closes the PCC again within the healthy phase
	// noUtilitySensor runs the rig without the utility side of the PCC (hilrig --no-utility-sensor):
	// the reconnection must be an open transition. offline 0 skips the inverter-offline phase.
	noUtilitySensor bool
	// blackStart trips the rig inverter's grid-forming stage once the unit is islanded: a full
	// blackout the controller must black-start (model 123 Conn off, then on) before it resynchronises.
	blackStart bool
}

// TestEndToEnd is the short variant that runs with every `go test`: about 20 s of wall time.
func TestEndToEnd(t *testing.T) {
	// The outage ends 3 s into the run (wall time); the unit's enter-service delay is 5 s (ten cycles,
	// see rig.UnitYAML), so it synchronises on the utility side the rig publishes over MQTT and
	// closes the PCC again well inside the 12 s healthy phase.
	run(t, params{cycle: 500 * time.Millisecond, speed: 10, healthy: 12 * time.Second, offline: 5 * time.Second,
		recovery: 6 * time.Second, outage: "15s-30s", reconnect: true})
}

// TestEndToEndBlackStart: islanded, the battery inverter trips and the island goes dark; the daemon
// sees the dead bus (its relay trips), waits the black-start delay (5 s), black-starts the inverter
// over SunSpec model 123 and, once the utility is back, resynchronises and closes; about 30 s.
func TestEndToEndBlackStart(t *testing.T) {
	run(t, params{cycle: 500 * time.Millisecond, speed: 10, healthy: 28 * time.Second,
		outage: "15s-150s", reconnect: true, blackStart: true})
}

// TestEndToEndOpenTransition: a site whose meter does not sense the utility side islands and
// reconnects by an open transition (the island dark for 1 s, then the PCC closes); about 15 s.
func TestEndToEndOpenTransition(t *testing.T) {
	run(t, params{cycle: 500 * time.Millisecond, speed: 10, healthy: 12 * time.Second,
		outage: "15s-30s", reconnect: true, noUtilitySensor: true})
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds hilrig and fractalsd once per test binary.
func binaries(t *testing.T) (hilrig, fractalsd string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "fractals-e2e-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir+string(os.PathSeparator), "github.com/fractals-energy/fractals/cmd/hilrig",
			"github.com/fractals-energy/fractals/cmd/fractalsd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "hilrig"), filepath.Join(binDir, "fractalsd")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// proc is a child process whose stdout is scanned line by line.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr bytes.Buffer
	done   chan error
}

func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), lines: make(chan string, 1024), done: make(chan error, 1)}
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // nobody reads the daemon's cycle log after start-up
			}
		}
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
		}
	})
	return p
}

// interrupt sends SIGINT and expects a clean exit within 10 s.
func (p *proc) interrupt(t *testing.T, name string) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("%s exited with %v\n%s", name, err, p.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("%s did not stop within 10 s of SIGINT", name)
	}
}

func (p *proc) waitLine(t *testing.T, what string, match func(string) bool) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l := <-p.lines:
			if match(l) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %s within 30 s; stderr:\n%s", what, p.stderr.String())
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func inject(t *testing.T, rigURL string, f rig.Fault) {
	t.Helper()
	b, _ := json.Marshal(f)
	resp, err := http.Post(rigURL+"/fault", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("fault %+v: %s", f, resp.Status)
	}
}

// reading and status mirror the parts of fractalsd's GET /api/status that the test reads.
type reading struct {
	Value   float64   `json:"value"`
	Quality string    `json:"quality"`
	At      time.Time `json:"at"`
}

type status struct {
	Cycles   uint64 `json:"cycles"`
	Snapshot struct {
		At            time.Time `json:"at"`
		PVPower       reading   `json:"pv_power"`
		BatteryPower  reading   `json:"battery_power"`
		SoC           reading   `json:"soc"`
		GridFrequency reading   `json:"grid_frequency"`
	} `json:"snapshot"`
	Commands struct {
		BatteryPower float64 `json:"battery_power"`
		EVPower      float64 `json:"ev_power"`
	} `json:"commands"`
	State struct {
		Safe bool   `json:"safe"`
		Mode string `json:"mode"`
	} `json:"state"`
}

func run(t *testing.T, p params) {
	hilrigBin, fractalsdBin := binaries(t)
	dir := t.TempDir()
	unitFile := filepath.Join(dir, "unit.yaml")
	// Evening: the PV fades, the car is plugged in, an islanded battery discharges (so the island's
	// frequency droops and is worth comparing).
	rp := start(t, hilrigBin, append([]string{"--listen", "127.0.0.1:0", "--speed", fmt.Sprint(p.speed), "--write-config", unitFile,
		"--cycle", p.cycle.String(), "--start", "2026-06-21T18:30:00Z", "--outage", p.outage}, rigFlags(p)...)...)
	var rigURL string
	rp.waitLine(t, "rig ready", func(l string) bool {
		var d rig.DeviceInfo
		if json.Unmarshal([]byte(l), &d) == nil && d.Device == "rig" {
			rigURL = "http://" + d.Addr
			return true
		}
		return false
	})
	dp := start(t, fractalsdBin, "--config", unitFile, "--listen", "127.0.0.1:0", "--log-format", "json")
	var apiURL string
	dp.waitLine(t, "api address", func(l string) bool {
		var m struct{ Msg, Addr string }
		if json.Unmarshal([]byte(l), &m) == nil && m.Msg == "api listening" {
			apiURL = "http://" + m.Addr
			return true
		}
		return false
	})

	// Healthy: every cycle the controller's view matches the plant within one cycle.
	var st status
	commanded, islanded, reconnected, tripped := false, false, false, false
	blackStarts := 0
	minFreq := 1e9
	matched := 0
	deadline := time.Now().Add(p.healthy)
	events := map[string]string{} // the daemon's island events seen, kind → detail
	for time.Now().Before(deadline) {
		time.Sleep(p.cycle)
		drainEvents(dp, events)
		getJSON(t, apiURL+"/api/status", &st)
		fetched := time.Now() // the reads behind this status ended before it was served
		var hist []rig.Truth
		getJSON(t, rigURL+"/truth/history", &hist)
		s := st.Snapshot
		if st.Cycles < 2 || s.SoC.Quality != "good" {
			continue
		}
		for _, c := range []struct {
			name  string
			r     reading
			field func(rig.Truth) float64
			tol   float64
		}{
			{"PV power", s.PVPower, func(tr rig.Truth) float64 { return float64(tr.PVPower) }, 1.5},
			{"battery power", s.BatteryPower, func(tr rig.Truth) float64 { return float64(tr.BatteryPower) }, 1.5},
			{"SoC", s.SoC, func(tr rig.Truth) float64 { return float64(tr.SoC) }, 1.5e-4},
			{"frequency", s.GridFrequency, func(tr rig.Truth) float64 { return float64(tr.Frequency) }, 1e-3},
		} {
			if c.r.Quality != "good" {
				t.Errorf("%s is %s while every device is healthy", c.name, c.r.Quality)
			} else if !rig.MatchesBetween(hist, s.At.Add(-p.cycle), fetched, c.field, c.r.Value, c.tol) {
				t.Errorf("%s read %v at %v does not match the plant between one cycle before and the status fetch at %v",
					c.name, c.r.Value, s.At, fetched)
			}
		}
		matched++
		tr := hist[len(hist)-1]
		if st.State.Mode == "islanded" && !tr.PCCClosed && tr.GridForming {
			islanded = true
		}
		if islanded && st.State.Mode == "connected" && tr.PCCClosed {
			reconnected = true
		}
		if p.blackStart && islanded && !tripped {
			inject(t, rigURL, rig.Fault{Device: "inverter", Kind: "trip", On: true})
			tripped = true
		}
		blackStarts = max(blackStarts, tr.BlackStarts)
		minFreq = min(minFreq, s.GridFrequency.Value)
		if tr.BatteryHeld && st.Commands.BatteryPower != 0 && abs(float64(tr.BatterySetpoint)-st.Commands.BatteryPower) <= 0.5 {
			commanded = true
		}
	}
	if matched < int(p.healthy/p.cycle)/2 {
		t.Errorf("only %d cycles compared in %v", matched, p.healthy)
	}
	if !commanded {
		t.Errorf("the controller's battery command never reached the plant (last command %v W)", st.Commands.BatteryPower)
	}
	if p.outage != "" && !islanded {
		t.Errorf("utility outage %s: the controller never islanded the unit (PCC open, battery forming)", p.outage)
	}
	if p.reconnect && !reconnected {
		t.Errorf("the controller did not close the PCC again after the outage")
	}
	if p.reconnect {
		// Resynchronised on the utility side the rig publishes, not an open transition.
		want := []string{"island_islanded", "island_synchronising", "island_closing", "island_connected"}
		if p.noUtilitySensor {
			want = []string{"island_islanded", "island_open_transition_cease", "island_open_transition_close", "island_connected"}
		}
		for _, kind := range want {
			if _, ok := events[kind]; !ok {
				t.Errorf("no %s event from the daemon (events seen: %v)", kind, events)
			}
		}
		if p.blackStart {
			if _, ok := events["island_blackout"]; !ok || blackStarts < 1 || !strings.Contains(events["island_islanded"], "black start") {
				t.Errorf("tripped inverter: blackout event %v, black starts in the plant %d, last islanded event %q: want a blackout and a black start",
					ok, blackStarts, events["island_islanded"])
			}
			t.Logf("blackout: %s; then %s", events["island_blackout"], events["island_islanded"])
		}
		if _, synced := events["island_synchronising"]; p.noUtilitySensor && synced {
			t.Errorf("synchronised without a utility-side sensor: %v", events)
		}
		t.Logf("reconnection: %s; %s", events["island_closing"], events["island_open_transition_cease"])
	}
	t.Logf("%d cycles matched the plant; battery command %v W held by the inverter; islanded %v (lowest frequency %.3f Hz), reconnected %v",
		matched, st.Commands.BatteryPower, islanded, minFreq, reconnected)

	if p.offline == 0 {
		dp.interrupt(t, "fractalsd")
		rp.interrupt(t, "hilrig")
		return
	}

	// The inverter goes silent: stale within two cycles, then safe set-points.
	inject(t, rigURL, rig.Fault{Device: "inverter", Kind: "offline", On: true})
	off := time.Now()
	staleAt, safeAt := time.Duration(0), time.Duration(0)
	for time.Since(off) < p.offline {
		getJSON(t, apiURL+"/api/status", &st)
		if staleAt == 0 && st.Snapshot.SoC.Quality != "good" && st.Snapshot.PVPower.Quality != "good" {
			staleAt = time.Since(off)
		}
		if safeAt == 0 && st.State.Safe && st.Commands.EVPower == 0 {
			safeAt = time.Since(off)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("inverter offline: stale after %v, safe set-points after %v", staleAt, safeAt)
	if staleAt == 0 || staleAt > 2*p.cycle+100*time.Millisecond {
		t.Errorf("stale after %v, want within two cycles (%v)", staleAt, 2*p.cycle)
	}
	if safeAt == 0 {
		t.Errorf("no safe set-points within %v of the outage", p.offline)
	}
	if p.revert {
		var tr rig.Truth
		getJSON(t, rigURL+"/truth", &tr)
		if tr.BatteryHeld {
			t.Errorf("the inverter still holds %v W after %v without its controller (revert 20 s)", tr.BatterySetpoint, p.offline)
		}
	}

	// It answers again: the daemon recovers by itself.
	inject(t, rigURL, rig.Fault{Device: "inverter", Kind: "offline"})
	back := time.Now()
	for {
		getJSON(t, apiURL+"/api/status", &st)
		if !st.State.Safe && st.Snapshot.SoC.Quality == "good" && st.Snapshot.PVPower.Quality == "good" {
			break
		}
		if time.Since(back) > p.recovery {
			t.Fatalf("not recovered %v after the inverter came back: %+v", p.recovery, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("recovered %v after the inverter came back", time.Since(back).Round(time.Millisecond))

	dp.interrupt(t, "fractalsd")
	rp.interrupt(t, "hilrig")
	if strings.Contains(dp.stderr.String(), "panic") || strings.Contains(rp.stderr.String(), "panic") {
		t.Errorf("a process panicked:\n%s\n%s", dp.stderr.String(), rp.stderr.String())
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// drainEvents collects the daemon's island events from its JSON log without blocking.
func drainEvents(p *proc, into map[string]string) {
	for {
		select {
		case l := <-p.lines:
			var m struct{ Msg, Kind, Detail string }
			if json.Unmarshal([]byte(l), &m) == nil && m.Msg == "event" && strings.HasPrefix(m.Kind, "island_") {
				into[m.Kind] = m.Detail
			}
		default:
			return
		}
	}
}

// rigFlags are the hilrig flags a run's parameters add.
func rigFlags(p params) []string {
	if p.noUtilitySensor {
		return []string{"--no-utility-sensor"}
	}
	return nil
}
