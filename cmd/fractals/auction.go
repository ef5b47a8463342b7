package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/fractals-energy/fractals/auction"
)

func init() {
	register(command{
		name:    "auction",
		summary: "clear one market interval (clear) or solve a multi-period market (solve)",
		run:     runAuction,
	})
}

func runAuction(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: fractals auction clear|solve --in FILE (default stdin) [--method central|distributed]")
		return 2
	}
	switch args[0] {
	case "clear":
		return auctionClear(args[1:], stdin, stdout, stderr)
	case "solve":
		return auctionSolve(args[1:], stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "fractals auction: unknown sub-command %q (accepted: clear, solve)\n", args[0])
	return 2
}

// openInput returns the file named by --in, or stdin for "" or "-".
func openInput(name string, stdin io.Reader) (io.Reader, func(), error) {
	if name == "" || name == "-" {
		return stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

func auctionClear(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fractals auction clear", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "JSON input file (default stdin)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	r, done, err := openInput(*in, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "fractals auction clear: --in: %v\n", err)
		return 2
	}
	defer done()
	m, bids, err := auction.ReadClear(r)
	if err != nil {
		fmt.Fprintf(stderr, "fractals auction clear: %v\n", err)
		return 2
	}
	res, err := m.Clear(bids)
	if err != nil {
		fmt.Fprintf(stderr, "fractals auction clear: %v\n", err)
		return 2
	}
	return writeJSON(stdout, stderr, "fractals auction", res.Output(bids), true)
}

func auctionSolve(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fractals auction solve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "JSON input file (default stdin)")
	method := fs.String("method", "central", "central (interior point) or distributed (ADMM exchange)")
	maxIter := fs.Int("max-iterations", 1000, "distributed: iteration limit, 1..100000")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *method != string(auction.Central) && *method != string(auction.Distributed) {
		fmt.Fprintf(stderr, "fractals auction solve: --method %q, want central or distributed\n", *method)
		return 2
	}
	if *maxIter < 1 || *maxIter > 100000 {
		fmt.Fprintf(stderr, "fractals auction solve: --max-iterations %d, want 1..100000\n", *maxIter)
		return 2
	}
	r, done, err := openInput(*in, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "fractals auction solve: --in: %v\n", err)
		return 2
	}
	defer done()
	p, err := auction.ReadProblem(r)
	if err != nil {
		fmt.Fprintf(stderr, "fractals auction solve: %v\n", err)
		return 2
	}
	sol, err := auction.Solve(p, auction.Method(*method), auction.ADMMOptions{MaxIterations: *maxIter})
	if err != nil {
		fmt.Fprintf(stderr, "fractals auction solve: %v\n", err)
		if errors.Is(err, auction.ErrNotConverged) {
			return 1
		}
		return 2
	}
	return writeJSON(stdout, stderr, "fractals auction", sol, true)
}
