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

// TestCommunityAgainstGLPK: the bilateral program SolveCommunity solves, written as a CPLEX LP file,
// has the same optimum in GLPK's glpsol (skipped when glpk-utils is not installed).
func TestCommunityAgainstGLPK(t *testing.T) {
	glpsol, err := exec.LookPath("glpsol")
	if err != nil {
		t.Skip("glpsol not installed (apt-get install glpk-utils)")
	}
	dir := t.TempDir()
	for trial, n := range []int{3, 6, 10} {
		rng := rand.New(rand.NewPCG(91, uint64(trial)))
		c := testCommunity(n, 4, geometricLinks(n, 0.5, rng), trial != 1, rng)
		sol, err := SolveCommunity(c)
		if err != nil {
			t.Fatal(err)
		}
		blocks, _, rows := c.blocks()
		lpFile := filepath.Join(dir, fmt.Sprintf("c%d.lp", trial))
		if err := os.WriteFile(lpFile, []byte(blockLPText(blocks, rows)), 0o600); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, fmt.Sprintf("c%d.txt", trial))
		if msg, err := exec.Command(glpsol, "--lp", lpFile, "-o", out).CombinedOutput(); err != nil {
			t.Fatalf("glpsol: %v\n%s", err, msg)
		}
		opt := -glpkObjective(t, out) // the file minimises cost
		t.Logf("%d units: interior point %.8f, GLPK %.8f", n, sol.Welfare, opt)
		if math.Abs(sol.Welfare-opt) > 1e-6*math.Max(1, math.Abs(opt)) {
			t.Fatalf("%d units: welfare %.10g, GLPK %.10g", n, sol.Welfare, opt)
		}
	}
}

// blockLPText writes min Σ cost·x subject to every balance row, every block's own rows and the bounds.
func blockLPText(blocks []block, rows int) string {
	var obj strings.Builder
	balance := make([]strings.Builder, rows)
	var own, bounds strings.Builder
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for i, b := range blocks {
		ownRows := make([]strings.Builder, len(b.rhs))
		for j := range b.cost {
			name := fmt.Sprintf("x%d_%d", i, j)
			fmt.Fprintf(&obj, " %s %s", signed(b.cost[j]), name)
			if t := b.period[j]; t >= 0 {
				fmt.Fprintf(&balance[t], " %s %s", signed(b.sign[j]), name)
			}
			if t2, s2 := b.second(j); t2 >= 0 {
				fmt.Fprintf(&balance[t2], " %s %s", signed(s2), name)
			}
			for _, e := range b.column[j] {
				fmt.Fprintf(&ownRows[e.row], " %s %s", signed(e.coef), name)
			}
			fmt.Fprintf(&bounds, " 0 <= %s <= %s\n", name, num(b.upper[j]))
		}
		for r := range ownRows {
			if ownRows[r].Len() > 0 {
				fmt.Fprintf(&own, " own%d_%d:%s = %s\n", i, r, ownRows[r].String(), num(b.rhs[r]))
			}
		}
	}
	var lp strings.Builder
	fmt.Fprintf(&lp, "Minimize\n obj:%s\nSubject To\n", obj.String())
	for t := range balance {
		if balance[t].Len() > 0 {
			fmt.Fprintf(&lp, " bal%d:%s = 0\n", t, balance[t].String())
		}
	}
	lp.WriteString(own.String())
	fmt.Fprintf(&lp, "Bounds\n%sEnd\n", bounds.String())
	return lp.String()
}
