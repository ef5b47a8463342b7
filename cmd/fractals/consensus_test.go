package main

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"testing"
)

// TestSimConsensusDumpResolves: `fractals sim --market-method consensus --dump-market DIR` clears
// every interval with a market peer per unit over the mesh, and `fractals auction solve --in FILE
// --method central` on the dumped intervals gives back the summary's central optimum.
func TestSimConsensusDumpResolves(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := dispatch([]string{"sim", "--units", "3", "--duration", "1h", "--feeder", "../../grid/testdata/case33bw.m",
		"--market-method", "consensus", "--horizon", "1h", "--dump-market", dir, "--json"}, nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r struct {
		Market struct {
			Intervals, Cleared int
			Central            float64 `json:"central_optimum"`
			Method             string
		}
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Market.Intervals != 4 || r.Market.Cleared != 4 || r.Market.Method != "consensus" {
		t.Fatalf("market %+v", r.Market)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "market-*.json"))
	if len(files) != 4 {
		t.Fatalf("dumped %d intervals, want 4", len(files))
	}
	var central float64
	for _, f := range files {
		var o, e bytes.Buffer
		if code := dispatch([]string{"auction", "solve", "--in", f, "--method", "central"}, nil, &o, &e); code != 0 {
			t.Fatalf("%s: exit %d: %s", f, code, e.String())
		}
		var sol struct{ Welfare float64 }
		if err := json.Unmarshal(o.Bytes(), &sol); err != nil {
			t.Fatal(err)
		}
		central += sol.Welfare
	}
	if math.Abs(central-r.Market.Central) > 1e-6*math.Max(1, math.Abs(central)) {
		t.Fatalf("re-solved %.9f, the run's central optimum %.9f", central, r.Market.Central)
	}
}
