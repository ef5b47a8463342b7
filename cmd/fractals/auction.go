package main

import (
	"bytes"
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
		fmt.Fprintln(stderr, "usage: fractals auction clear|solve --in FILE (default stdin) [--method central|distributed|consensus]")
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
	in := fs.String("in", "", "JSON input file (default stdin): a pooled problem (agents) or a community (units and links)")
	method := fs.String("method", "central", "central (interior point), distributed (ADMM exchange, pooled problems) or consensus (bilateral peers, communities)")
	maxIter := fs.Int("max-iterations", 1000, "distributed: iteration limit, 1..100000")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch *method {
	case string(auction.Central), string(auction.Distributed), "consensus":
	default:
		fmt.Fprintf(stderr, "fractals auction solve: --method %q, want central, distributed or consensus\n", *method)
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
	data, err := io.ReadAll(r)
	if err != nil {
		fmt.Fprintf(stderr, "fractals auction solve: --in: %v\n", err)
		return 2
	}
	if auction.IsCommunityInput(data) {
		return solveCommunity(data, *method, stdout, stderr)
	}
	if *method == "consensus" {
		fmt.Fprintln(stderr, "fractals auction solve: --method consensus needs a community (units and links), got a pooled problem (agents)")
		return 2
	}
	p, err := auction.ReadProblem(bytes.NewReader(data))
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

// solveCommunity solves a bilateral market centrally or by its consensus peers.
func solveCommunity(data []byte, method string, stdout, stderr io.Writer) int {
	c, err := auction.ReadCommunity(bytes.NewReader(data))
	if err != nil {
		fmt.Fprintf(stderr, "fractals auction solve: %v\n", err)
		return 2
	}
	switch method {
	case "consensus":
		run, err := auction.RunConsensus(c, nil)
		if err != nil {
			fmt.Fprintf(stderr, "fractals auction solve: %v\n", err)
			return 1
		}
		if !run.Converged {
			fmt.Fprintf(stderr, "fractals auction solve: consensus did not converge in %d iterations\n", run.Iterations)
			writeJSON(stdout, stderr, "fractals auction", run, true)
			return 1
		}
		return writeJSON(stdout, stderr, "fractals auction", run, true)
	case string(auction.Central):
		sol, err := auction.SolveCommunity(c)
		if err != nil {
			fmt.Fprintf(stderr, "fractals auction solve: %v\n", err)
			if errors.Is(err, auction.ErrNotConverged) {
				return 1
			}
			return 2
		}
		return writeJSON(stdout, stderr, "fractals auction", sol, true)
	}
	fmt.Fprintln(stderr, "fractals auction solve: a community (units and links) takes --method central or consensus")
	return 2
}
