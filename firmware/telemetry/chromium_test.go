package telemetry

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/firmware"
)

// chromium loads url in headless Chromium and returns the DOM after the page's scripts ran and the
// console lines it logged (Chromium logs every console message and uncaught error as CONSOLE).
func chromium(t *testing.T, bin, url string, extra ...string) (dom string, console []string) {
	t.Helper()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000"}, extra...)
	cmd := exec.Command(bin, append(args, url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && !strings.Contains(strings.Join(extra, " "), "--screenshot") {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, ":CONSOLE") {
			console = append(console, line)
		}
	}
	return string(out), console
}

func chromiumBin(t *testing.T) string {
	return peer(t, "chromium", "apt-get install -y chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
}

// TestConsoleErrorsAreSeen makes sure the check below is not blind: a page that fails is caught.
func TestConsoleErrorsAreSeen(t *testing.T) {
	bin := chromiumBin(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<!doctype html><script>undefinedFunction()</script>`)
	}))
	defer srv.Close()
	if _, console := chromium(t, bin, srv.URL); len(console) == 0 {
		t.Fatal("an uncaught error was not logged")
	}
}

// TestDashboardInHeadlessChromium loads the dashboard of a unit that ran 20 simulated minutes in a
// real Chromium: no console errors, the values shown are those of /api/status, and a phone-sized
// screenshot goes to $FRACTALS_TEST_OUT (default: fractals-test-out in the temporary directory).
func TestDashboardInHeadlessChromium(t *testing.T) {
	bin := chromiumBin(t)
	d, clk := simDaemon(t)
	ops, err := Start(d, Setup{UnitName: "unit-ui", HistoryEvery: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	nodes, err := firmware.StartLoopbackCommunity(2, "dashboard-test")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	d.AttachMesh(nodes[1])
	tick(d, clk, 1200)
	waitFor(t, "the mesh peer", func() bool { ms, _ := d.MeshView(); return len(ms.Peers) == 1 })
	d.StopObservers() // the unit stands still, so the page and the status show the same cycle
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()

	dom, console := chromium(t, bin, srv.URL+"/", "--dump-dom")
	if len(console) > 0 {
		t.Fatalf("console messages:\n%s", strings.Join(console, "\n"))
	}
	st := d.Unit().Status()
	text := func(id string) string {
		m := regexp.MustCompile(`id="` + id + `"[^>]*>([^<]*)<`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("no #%s in the page", id)
		}
		return m[1]
	}
	if got := text("cycles"); got != strconv.FormatUint(st.Cycles, 10) {
		t.Fatalf("page shows cycle %s, status %d", got, st.Cycles)
	}
	for id, w := range map[string]float64{"pv-w": float64(st.Snapshot.PVPower.Value), "grid-w": float64(st.Snapshot.GridPower.Value),
		"battery-w": float64(st.Snapshot.BatteryPower.Value), "ev-w": float64(st.Snapshot.EVPower.Value)} {
		if got, want := text(id), strconv.Itoa(int(math.Round(w))); got != want {
			t.Errorf("#%s shows %q, status %s W", id, got, want)
		}
	}
	if got, want := text("soc"), strconv.FormatFloat(math.Round(float64(st.Snapshot.SoC.Value)*1000)/10, 'f', -1, 64)+" %"; got != want {
		t.Errorf("#soc shows %q, status %q", got, want)
	}
	if got := text("mode"); got != st.State.Mode.String() {
		t.Errorf("#mode shows %q, status %q", got, st.State.Mode)
	}
	if n := strings.Count(dom, "<polyline"); n != 5 {
		t.Errorf("%d plot lines, want 5 (history has %d samples)", n, len(ops.History.Samples()))
	}
	if !strings.Contains(dom, "No market commitment in this unit's status yet.") {
		t.Error("market panel should say it is empty (no schedule in the status)")
	}
	if !strings.Contains(dom, "This unit runs no ledger.") {
		t.Error("ledger panel should say the unit runs none")
	}
	cell := func(key string) string {
		m := regexp.MustCompile(`<td>` + regexp.QuoteMeta(key) + `</td><td>([^<]*)</td>`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("no %q row in the page", key)
		}
		return m[1]
	}
	if got := cell("phase"); got != st.State.Island.Phase.String() {
		t.Errorf("island phase shows %q, status %q", got, st.State.Island.Phase)
	}
	if got := cell("EV mode"); got != st.State.EVMode.String() {
		t.Errorf("EV mode shows %q, status %q", got, st.State.EVMode)
	}
	if got := cell("community"); got != "dashboard-test" {
		t.Errorf("mesh community shows %q", got)
	}
	if got := cell("peers"); got != "1" {
		t.Errorf("mesh peers shows %q, /api/mesh has 1", got)
	}

	shot := filepath.Join(artifactDir(t), "dashboard-phone.png")
	_, console = chromium(t, bin, srv.URL+"/", "--screenshot="+shot, "--window-size=412,1400", "--hide-scrollbars")
	if len(console) > 0 {
		t.Fatalf("console messages:\n%s", strings.Join(console, "\n"))
	}
	info, err := os.Stat(shot)
	if err != nil || info.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	raw, _ := json.Marshal(st.Energy)
	t.Logf("screenshot %s (%d bytes); energy %s", shot, info.Size(), raw)
}

// artifactDir is where tests leave files for people to look at.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("FRACTALS_TEST_OUT")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "fractals-test-out")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
