package report

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/hil/scenario"
)

func readScenario(t testing.TB, path string) *scenario.Scenario {
	t.Helper()
	s, err := scenario.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A scenario whose assertion cannot hold fails, and the report says which and what was measured.
func TestScenarioReportAndFailingAssertion(t *testing.T) {
	s := readScenario(t, "../../hil/scenarios/outage-noon.yaml")
	for i := range s.Assertions {
		if s.Assertions[i].Kind == "phases" {
			s.Assertions[i].Sequence = []string{"connected"}
		}
	}
	r, err := firmware.RunScenario(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if r.Pass {
		t.Fatal("a wrong phase sequence passed")
	}
	dir := t.TempDir()
	if err := WriteScenario(dir, &r); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Pass     bool `json:"pass"`
		Verdicts []struct {
			Kind     string `json:"kind"`
			Measured string `json:"measured"`
			Pass     bool   `json:"pass"`
		} `json:"assertions"`
	}
	body, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, v := range rep.Verdicts {
		if !v.Pass {
			failed++
			if v.Kind != "phases" || !strings.Contains(v.Measured, "synchronising") {
				t.Errorf("failed verdict %+v", v)
			}
		}
	}
	if rep.Pass || failed != 1 {
		t.Fatalf("report: pass %v, %d failed", rep.Pass, failed)
	}
	for _, f := range []string{"index.html", "power.png", "soc.png", "frequency.png", "voltage.png", "states.png"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	page, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	if !strings.Contains(string(page), `<img src="power.png"`) || !strings.Contains(string(page), "FAIL") {
		t.Error("index.html does not show the plots and the verdict")
	}
}
