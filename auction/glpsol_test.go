package auction

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestClearWelfareAgainstGLPK is a second, outside opinion on the clearing's welfare: GLPK's glpsol
// solves the same welfare linear program from a CPLEX LP file. gonum's simplex check
// (TestClearWelfareIsOptimal) always runs; this one needs Debian's glpk-utils and is skipped only when
// glpsol is not installed.
func TestClearWelfareAgainstGLPK(t *testing.T) {
	glpsol, err := exec.LookPath("glpsol")
	if err != nil {
		t.Skip("glpsol not installed (apt-get install glpk-utils); gonum's simplex check still runs")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	dir := t.TempDir()
	for trial := range 30 {
		bids := randomBids(rng, 2+rng.IntN(40), trial%2 == 0)
		r, err := Market{}.Clear(bids)
		if err != nil {
			t.Fatal(err)
		}
		lpFile := filepath.Join(dir, fmt.Sprintf("w%d.lp", trial))
		if err := os.WriteFile(lpFile, []byte(welfareLPText(bids)), 0o600); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, fmt.Sprintf("w%d.txt", trial))
		if msg, err := exec.Command(glpsol, "--lp", lpFile, "-o", out).CombinedOutput(); err != nil {
			t.Fatalf("glpsol: %v\n%s", err, msg)
		}
		opt := glpkObjective(t, out)
		if math.Abs(r.Welfare-opt) > 1e-6*math.Max(1, math.Abs(opt)) {
			t.Fatalf("trial %d: clearing welfare %.10g, GLPK %.10g", trial, r.Welfare, opt)
		}
	}
}

// welfareLPText writes max Σ p_b x_b − Σ p_s y_s, Σ x = Σ y, 0 ≤ x ≤ q in CPLEX LP format.
func welfareLPText(bids []Bid) string {
	var obj, bal, bounds strings.Builder
	for i, b := range bids {
		side, q, p := b.effective(DefaultPriceCap)
		sign := 1.0
		if side == Sell {
			sign = -1
		}
		fmt.Fprintf(&obj, " %s x%d", signed(sign*p), i)
		fmt.Fprintf(&bal, " %s x%d", signed(sign), i)
		fmt.Fprintf(&bounds, " 0 <= x%d <= %s\n", i, strconv.FormatFloat(q, 'g', -1, 64))
	}
	return "Maximize\n obj:" + obj.String() + "\nSubject To\n balance:" + bal.String() + " = 0\nBounds\n" + bounds.String() + "End\n"
}

// signed writes a coefficient with its own sign as the operator, as the LP format wants ("- 5", "+ 2").
func signed(v float64) string {
	v += 0 // −0 becomes +0
	if v < 0 {
		return "- " + strconv.FormatFloat(-v, 'g', -1, 64)
	}
	return "+ " + strconv.FormatFloat(v, 'g', -1, 64)
}

// glpkObjective reads "Objective:  obj = 123.4 (MAXimum)" from glpsol's report.
func glpkObjective(t *testing.T, path string) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "Objective:") {
			continue
		}
		fields := strings.Fields(line)
		for i, w := range fields {
			if w == "=" && i+1 < len(fields) {
				v, err := strconv.ParseFloat(fields[i+1], 64)
				if err != nil {
					t.Fatalf("glpsol objective %q: %v", line, err)
				}
				return v
			}
		}
	}
	t.Fatalf("no objective in glpsol output %s", path)
	return 0
}
