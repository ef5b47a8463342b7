package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/fractals-energy/fractals/grid"
	"github.com/fractals-energy/fractals/internal/cli"
)

func init() {
	register(command{name: "pf", summary: "run a power flow on a MATPOWER case: pf CASE.m [--method auto|nr|sweep] [--json]", run: runPF})
}

// pfJSON is the machine-readable output of `fractals pf --json`.
type pfJSON struct {
	Converged  bool    `json:"converged"`
	Method     string  `json:"method"`
	Iterations int     `json:"iterations"`
	BaseMVA    float64 `json:"base_mva"`
	LossesMW   float64 `json:"losses_mw"`
	LossesMVAr float64 `json:"losses_mvar"`
	// SweepFailure is set when auto tried the sweep on a radial case, it failed, and Newton-Raphson
	// (named in Method) solved the case instead.
	SweepFailure string         `json:"sweep_failure,omitempty"`
	Buses        []pfBusJSON    `json:"buses"`
	Branches     []pfBranchJSON `json:"branches"`
}

type pfBusJSON struct {
	ID    int     `json:"id"`
	Vm    float64 `json:"vm"`
	VaDeg float64 `json:"va_deg"`
}

type pfBranchJSON struct {
	From      int     `json:"from"`
	To        int     `json:"to"`
	PFromMW   float64 `json:"p_from_mw"`
	QFromMVAr float64 `json:"q_from_mvar"`
	PToMW     float64 `json:"p_to_mw"`
	QToMVAr   float64 `json:"q_to_mvar"`
}

func runPF(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fractals pf", flag.ContinueOnError)
	methodName := fs.String("method", "auto", "power-flow method: auto, nr or sweep")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	positional, code := parseInterspersed(fs, args, stderr)
	if code >= 0 {
		return code
	}
	if len(positional) != 1 {
		return cli.Errorf(stderr, fs, "want exactly one case file (fractals pf CASE.m [--method auto|nr|sweep] [--json]), got %d arguments", len(positional))
	}
	method, err := grid.ParseMethod(*methodName)
	if err != nil {
		return cli.Errorf(stderr, fs, "--method: %v", err)
	}
	c, err := readCase(positional[0])
	if err != nil {
		return cli.Errorf(stderr, fs, "%v", err)
	}
	res, err := grid.Solve(c, grid.Options{Method: method})
	var bad *grid.CaseError
	if errors.As(err, &bad) {
		return cli.Errorf(stderr, fs, "%s: %v", positional[0], err) // bad input, as a parse error is
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		return cli.ExitFailure
	}
	if *asJSON {
		return writePFJSON(stdout, stderr, res)
	}
	writePFTable(stdout, res)
	return cli.ExitOK
}

// parseInterspersed lets flags come before or after the case file. It returns the positional arguments,
// or an exit status (>= 0) when parsing stopped on an error or on --help.
func parseInterspersed(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, int) {
	var positional []string
	for {
		ok, help := cli.Parse(fs, args, -1, stderr)
		if help {
			return nil, cli.ExitOK
		}
		if !ok {
			return nil, cli.ExitUsage
		}
		if fs.NArg() == 0 {
			return positional, -1
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func readCase(path string) (*grid.Case, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return grid.ParseMATPOWER(f, filepath.Base(path))
}

func writePFJSON(stdout, stderr io.Writer, r *grid.Result) int {
	out := pfJSON{Converged: true, Method: r.Method.String(), Iterations: r.Iterations, BaseMVA: r.BaseMVA,
		LossesMW: r.LossesMW, LossesMVAr: r.LossesMVAr, SweepFailure: r.SweepFailure, Buses: []pfBusJSON{}, Branches: []pfBranchJSON{}}
	for _, b := range r.Buses {
		out.Buses = append(out.Buses, pfBusJSON{ID: b.ID, Vm: b.Vm, VaDeg: b.VaDeg})
	}
	for _, b := range r.Branches {
		out.Branches = append(out.Branches, pfBranchJSON{From: b.From, To: b.To, PFromMW: b.PFrom, QFromMVAr: b.QFrom, PToMW: b.PTo, QToMVAr: b.QTo})
	}
	return writeJSON(stdout, stderr, "fractals pf", out, true)
}

func writePFTable(w io.Writer, r *grid.Result) {
	vmin, bmin := r.MinVoltage()
	vmax, bmax := r.MaxVoltage()
	fmt.Fprintf(w, "%s: converged by %s in %d iterations (base %g MVA)\n", r.Case, r.Method, r.Iterations, r.BaseMVA)
	if r.SweepFailure != "" {
		fmt.Fprintf(w, "the sweep failed (%s), so Newton-Raphson solved it\n", r.SweepFailure)
	}
	fmt.Fprintf(w, "losses %.6f MW, %.6f MVAr; voltage min %.5f p.u. at bus %d, max %.5f p.u. at bus %d\n\n", r.LossesMW, r.LossesMVAr, vmin, bmin, vmax, bmax)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "bus\tVm (p.u.)\tVa (deg)\tPg (MW)\tQg (MVAr)\tPd (MW)\tQd (MVAr)\t")
	for _, b := range r.Buses {
		fmt.Fprintf(tw, "%d\t%.5f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t\n", b.ID, b.Vm, b.VaDeg, b.Pg, b.Qg, b.Pd, b.Qd)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "from\tto\tP from (MW)\tQ from (MVAr)\tP to (MW)\tQ to (MVAr)\tloss (MW)\t")
	for _, b := range r.Branches {
		fmt.Fprintf(tw, "%d\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.5f\t\n", b.From, b.To, b.PFrom, b.QFrom, b.PTo, b.QTo, b.LossMW)
	}
	tw.Flush()
}
