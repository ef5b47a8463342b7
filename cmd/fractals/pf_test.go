package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const pfCases = "../../grid/testdata"

func runPFCommand(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = dispatch(append([]string{"pf"}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestPFJSONCase33bw(t *testing.T) {
	code, out, errOut := runPFCommand(t, filepath.Join(pfCases, "case33bw.m"), "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var got pfJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	// case33bw is radial with one source, so auto picks the sweep; MATPOWER reports 202.68 kW of losses.
	if !got.Converged || got.Method != "sweep" || got.BaseMVA != 10 {
		t.Fatalf("header %+v", got)
	}
	if math.Abs(got.LossesMW-0.202677) > 1e-6 {
		t.Errorf("losses %.7f MW, want 0.202677", got.LossesMW)
	}
	if len(got.Buses) != 33 || len(got.Branches) != 32 {
		t.Fatalf("%d buses, %d branches; want 33 and 32 (the five tie switches are open)", len(got.Buses), len(got.Branches))
	}
	if got.Buses[17].ID != 18 || math.Abs(got.Buses[17].Vm-0.91309) > 1e-5 {
		t.Errorf("bus 18 %+v, want vm 0.91309", got.Buses[17])
	}
	if got.Branches[0].From != 1 || got.Branches[0].To != 2 || got.Branches[0].PFromMW < 3.7 {
		t.Errorf("first branch %+v, want 1-2 carrying the whole feeder (3.715 MW load + losses)", got.Branches[0])
	}
}

func TestPFMethodFlagAfterOrBeforeCase(t *testing.T) {
	for _, args := range [][]string{
		{"--method", "nr", "--json", filepath.Join(pfCases, "case9.m")},
		{filepath.Join(pfCases, "case9.m"), "--json", "--method=nr"},
	} {
		code, out, errOut := runPFCommand(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, %s", args, code, errOut)
		}
		var got pfJSON
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if got.Method != "nr" || got.Iterations < 1 || math.Abs(got.LossesMW-4.641) > 1e-3 {
			t.Errorf("%v: method %s, %d iterations, %.4f MW losses; want nr, 4.641 MW", args, got.Method, got.Iterations, got.LossesMW)
		}
	}
}

func TestPFTable(t *testing.T) {
	code, out, errOut := runPFCommand(t, filepath.Join(pfCases, "case14.m"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"converged by nr", "losses 13.39", "Vm (p.u.)", "P from (MW)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestPFBadUsage(t *testing.T) {
	// case9 with generator bus 3's only branch (3-6) removed: an island without a slack bus
	src, err := os.ReadFile(filepath.Join(pfCases, "case9.m"))
	if err != nil {
		t.Fatal(err)
	}
	noSlack := filepath.Join(t.TempDir(), "noslack.m")
	cut := strings.Replace(string(src), "\t3\t6\t0\t0.0586\t0\t300\t300\t300\t0\t0\t1\t-360\t360;\n", "", 1)
	if cut == string(src) {
		t.Fatal("case9.m no longer has the 3-6 row this test removes")
	}
	if err := os.WriteFile(noSlack, []byte(cut), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.m")
	if err := os.WriteFile(bad, []byte("mpc.version = '2';\nmpc.baseMVA = 100;\nx = 3;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "exactly one case file"},
		{[]string{filepath.Join(pfCases, "case9.m"), "--method", "gauss"}, 2, "--method"},
		{[]string{filepath.Join(pfCases, "case9.m"), "extra.m"}, 2, "got 2"},
		{[]string{"--bogus"}, 2, "accepted flags: --json, --method"},
		{[]string{"--help"}, 0, "usage of fractals pf"},
		{[]string{filepath.Join(pfCases, "nope.m")}, 2, "no such file"},
		{[]string{bad}, 2, "bad.m:3: unsupported statement"},
		{[]string{filepath.Join(pfCases, "case118.m"), "--method", "sweep"}, 1, "meshed, not radial"},
		{[]string{noSlack}, 2, "noslack.m: grid: case noslack.m: island of 1 bus(es) without a slack bus: 3"},
	} {
		code, _, errOut := runPFCommand(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d containing %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

// writePVCase writes case33bw with bus 18 (the end of the longest lateral) turned into a PV bus: a
// 0.05 MW generator holding 0.97 p.u., which needs about 0.91 MVAr.
func writePVCase(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(pfCases, "case33bw.m"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "\t18\t1\t90\t40\t", "\t18\t2\t90\t40\t", 1)
	slack := "\t1\t0\t0\t10\t-10\t1\t100\t1\t10\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0;\n"
	text = strings.Replace(text, slack, slack+"\t18\t0.05\t0\t10\t-10\t0.97\t100\t1\t10\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0;\n", 1)
	if text == string(src) || strings.Count(text, "0.97\t100") != 1 {
		t.Fatal("case33bw.m no longer has the rows this test edits")
	}
	path := filepath.Join(t.TempDir(), "case33bw_pv18.m")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPFRadialWithPVBus: the sweep used to diverge on this feeder (exit 1) while Newton converged; now
// auto and both forced methods solve it and agree on bus 18.
func TestPFRadialWithPVBus(t *testing.T) {
	path := writePVCase(t)
	vm := map[string]float64{}
	for _, method := range []string{"auto", "sweep", "nr"} {
		code, out, errOut := runPFCommand(t, path, "--json", "--method", method)
		if code != 0 {
			t.Fatalf("--method %s: exit %d, %s", method, code, errOut)
		}
		var got pfJSON
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"auto": "sweep", "sweep": "sweep", "nr": "nr"}[method]; got.Method != want || got.SweepFailure != "" {
			t.Errorf("--method %s: ran %s (sweep failure %q), want %s", method, got.Method, got.SweepFailure, want)
		}
		vm[method] = got.Buses[17].Vm
	}
	for m, v := range vm {
		if math.Abs(v-0.97) > 1e-8 {
			t.Errorf("--method %s: bus 18 at %.10f p.u., want its 0.97 set-point", m, v)
		}
	}
}
