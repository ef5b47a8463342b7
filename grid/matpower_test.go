package grid

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testCases lists the MATPOWER cases copied into testdata from ../shared/data/matpower.
var testCases = []string{"case4_dist", "case9", "case14", "case18", "case22", "case30", "case33bw", "case69",
	"case85", "case118", "case141", "case_ieee30"}

func loadCase(t testing.TB, name string) *Case {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".m"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := ParseMATPOWER(f, name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readTestFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".m"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseEveryCase(t *testing.T) {
	// sizes as listed in each file: buses, in-service branches, generators, open branches
	want := map[string][4]int{
		"case4_dist": {4, 3, 2, 0}, "case9": {9, 9, 3, 0}, "case14": {14, 20, 5, 0}, "case18": {18, 17, 1, 0},
		"case22": {22, 21, 1, 0}, "case30": {30, 41, 6, 0}, "case33bw": {33, 32, 1, 5}, "case69": {69, 68, 1, 0},
		"case85": {85, 84, 1, 0}, "case118": {118, 186, 54, 0}, "case141": {141, 140, 1, 0}, "case_ieee30": {30, 41, 6, 0},
	}
	for _, name := range testCases {
		c := loadCase(t, name)
		got := [4]int{len(c.Buses), len(c.Branches), len(c.Gens), c.DroppedBranches}
		if got != want[name] {
			t.Errorf("%s: buses, branches, gens, dropped = %v, want %v", name, got, want[name])
		}
	}
}

func TestParseAppliesDistributionConversions(t *testing.T) {
	c := loadCase(t, "case33bw")
	// branch 1-2 is 0.0922 + j0.0470 ohm on a 12.66 kV, 10 MVA base: Zbase = 12.66² / 10 = 16.02756 ohm
	zBase := 12.66 * 12.66 / 10
	br := c.Branches[0]
	if math.Abs(br.R-0.0922/zBase) > 1e-15 || math.Abs(br.X-0.0470/zBase) > 1e-15 {
		t.Errorf("branch 1-2 r, x = %v, %v; want %v, %v", br.R, br.X, 0.0922/zBase, 0.0470/zBase)
	}
	// bus 2 carries 100 kW + j60 kVAr
	if b := c.Buses[1]; b.Pd != 0.1 || b.Qd != 0.06 {
		t.Errorf("bus 2 load %v + j%v MW, want 0.1 + j0.06", b.Pd, b.Qd)
	}
	c141 := loadCase(t, "case141")
	// bus 8 has 75 kVA at power factor 0.85: 63.75 kW and 75·sin(acos 0.85) = 39.509 kVAr
	b8 := c141.Buses[7]
	if math.Abs(b8.Pd-0.06375) > 1e-12 || math.Abs(b8.Qd-0.075*math.Sqrt(1-0.85*0.85)) > 1e-12 {
		t.Errorf("case141 bus 8 load %v + j%v MW", b8.Pd, b8.Qd)
	}
	// a transmission case without conversions keeps its numbers, and its bus names
	c118 := loadCase(t, "case118")
	if c118.Buses[0].Name != "Riversde  V2" || c118.Buses[0].Pd != 51 {
		t.Errorf("case118 bus 1: %+v", c118.Buses[0])
	}
	if br := c118.Branches[7]; br.From != 8 || br.To != 5 || br.Ratio != 0.985 {
		t.Errorf("case118 branch 8: %+v, want the 8-5 transformer with tap 0.985", br)
	}
}

func TestParseRefusesOtherStatements(t *testing.T) {
	src := readTestFile(t, "case33bw")
	lines := strings.Count(src, "\n")
	for _, extra := range []string{
		"mpc.bus(:, PD) = 0;",
		"mpc.branch(:, [BR_R BR_X]) = mpc.branch(:, [BR_R BR_X]) / (Vbase^2 / Sbase);", // applied twice
		"disp('hello')",
		"mpc.bus(:, [PD, QD]) = mpc.bus(:, [PD, QD]) / 1e6;",
		"Vbase = 3;",
	} {
		_, err := ParseMATPOWER(strings.NewReader(src+extra+"\n"), "case33bw")
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != lines+1 {
			t.Errorf("appending %q: error %v, want a ParseError on line %d", extra, err, lines+1)
		}
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	const head = "function mpc = t\nmpc.version = '2';\nmpc.baseMVA = 100;\n"                            // lines 1-3
	const bus = "mpc.bus = [\n1 3 0 0 0 0 1 1 0 100 1 1.1 0.9;\n2 1 10 5 0 0 1 1 0 100 1 1.1 0.9;\n];\n" // 4-7
	const gen = "mpc.gen = [\n1 0 0 10 -10 1 100 1 10 0;\n];\n"                                          // 8-10
	const branch = "mpc.branch = [\n1 2 0.01 0.1 0 0 0 0 0 0 1;\n];\n"                                   // 11-13
	if _, err := ParseMATPOWER(strings.NewReader(head+bus+gen+branch), "t"); err != nil {
		t.Fatalf("minimal case: %v", err)
	}
	for _, tc := range []struct {
		name, src string
		line      int
		want      string
	}{
		{"ragged row", head + "mpc.bus = [\n1 3 0 0 0 0 1 1 0 100 1 1.1 0.9;\n2 1 10 5;\n];\n" + gen + branch, 6, "columns"},
		{"bad number", head + strings.Replace(bus, "10 5", "10 5e+", 1) + gen + branch, 6, "bad number"},
		{"letters in a row", head + strings.Replace(bus, "10 5", "10 5x", 1) + gen + branch, 6, "unexpected \"x\""},
		{"unknown gen bus", head + bus + strings.Replace(gen, "1 0 0", "7 0 0", 1) + branch, 9, "bus 7"},
		{"unknown branch bus", head + bus + gen + strings.Replace(branch, "1 2 ", "1 9 ", 1), 12, "bus 9"},
		{"unclosed matrix", head + "mpc.bus = [\n1 3 0 0 0 0 1 1 0 100 1 1.1 0.9;\n", 6, "not closed"},
		{"version 1", strings.Replace(head, "'2'", "'1'", 1) + bus + gen + branch, 2, "version"},
		{"missing branch", head + bus + gen, 11, "mpc.branch"},
		{"duplicate baseMVA", head + "mpc.baseMVA = 10;\n" + bus + gen + branch, 4, "mpc.baseMVA assigned twice (first on line 3)"},
		{"duplicate bus", head + strings.Replace(bus, "\n2 1", "\n1 1", 1) + gen + branch, 6, "already defined"},
		{"bad bus type", head + strings.Replace(bus, "\n2 1", "\n2 7", 1) + gen + branch, 6, "type 7"},
		{"zero impedance", head + bus + gen + strings.Replace(branch, "0.01 0.1", "0 0", 1), 12, "zero impedance"},
		{"NaN", head + strings.Replace(bus, "10 5", "NaN 5", 1) + gen + branch, 6, ""},
		{"code", head + "for i = 1:3\n" + bus + gen + branch, 4, "unsupported statement"},
		{"unterminated string", "mpc.version = '2;\n", 1, "unterminated"},
		{"conversion before data", head + "[PQ, PV, REF, NONE, BUS_I, BUS_TYPE, PD, QD, GS, BS, BUS_AREA, VM, ...\n VA, BASE_KV, ZONE, VMAX, VMIN, LAM_P, LAM_Q, MU_VMAX, MU_VMIN] = idx_bus;\nmpc.bus(:, [PD, QD]) = mpc.bus(:, [PD, QD]) / 1e3;\n", 6, "before it is defined"},
	} {
		_, err := ParseMATPOWER(strings.NewReader(tc.src), "t")
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %v, want a ParseError", tc.name, err)
			continue
		}
		if pe.Line != tc.line || !strings.Contains(pe.Error(), tc.want) || !strings.HasPrefix(pe.Error(), "t:") {
			t.Errorf("%s: %q, want line %d mentioning %q", tc.name, pe.Error(), tc.line, tc.want)
		}
	}
}

// FuzzParseMATPOWER checks that no input makes the reader (or a power flow on what it accepts) panic,
// and that every refusal is a ParseError with a line inside the input.
func FuzzParseMATPOWER(f *testing.F) {
	for _, name := range []string{"case4_dist", "case9", "case22"} {
		src := readTestFile(f, name)
		f.Add(src)
		f.Add(src[:len(src)/2])
	}
	f.Add("mpc.version = '2';\nmpc.baseMVA = 1;\nmpc.bus = [1 3 0 0 0 0 1 1 0 1 1 1 1];\n")
	f.Add("mpc.bus = [ -Inf, +.5e-3 ; 1e309 ]; x = 'it''s';")
	f.Add("function mpc = x\n... \n%{\n")
	f.Fuzz(func(t *testing.T, src string) {
		c, err := ParseMATPOWER(strings.NewReader(src), "fuzz")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a ParseError", err)
			}
			if pe.Line < 1 || pe.Line > strings.Count(src, "\n")+1 {
				t.Fatalf("error line %d outside the input's %d lines", pe.Line, strings.Count(src, "\n")+1)
			}
			return
		}
		if len(c.Buses) > 200 {
			return // keep each fuzz iteration fast
		}
		if r, err := Solve(c, Options{MaxIterations: 10}); err == nil && math.IsNaN(r.LossesMW) {
			t.Fatalf("converged power flow with NaN losses")
		}
	})
}
