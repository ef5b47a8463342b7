package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/fractals-energy/fractals/ledger"
)

func init() {
	register(command{name: "ledger", summary: "payment channels: ledger bench|inspect|channels|open|deposit|withdraw|close|settle|pay", run: runLedger})
}

func runLedger(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "bench":
			return runLedgerBench(args[1:], stdout, stderr)
		case "inspect":
			return runLedgerInspect(args[1:], stdout, stderr)
		case "channels":
			return runLedgerChannels(args[1:], stdout, stderr)
		}
		if ledgerActions[args[0]] {
			return runLedgerAction(args[0], args[1:], stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "fractals ledger: sub-command required (accepted: bench, inspect, channels, open, deposit, withdraw, close, settle, pay)")
	return 2
}

func runLedgerBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ledger bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	transfers := fs.Int("transfers", 10000, "number of payments (1..10000000)")
	hops := fs.Int("hops", 1, "1: direct transfers between two nodes; 3: mediated A→B→C→D")
	inFlight := fs.Int("inflight", 64, "payments outstanding at once (1..4096; default 64 direct, 4 mediated)")
	dir := fs.String("dir", "", "directory for the bbolt files (default: a fresh temporary directory)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case *transfers < 1 || *transfers > 10_000_000:
		fmt.Fprintf(stderr, "fractals ledger bench: --transfers %d out of range 1..10000000\n", *transfers)
		return 2
	case *hops != 1 && *hops != 3:
		fmt.Fprintf(stderr, "fractals ledger bench: --hops %d, accepted 1 or 3\n", *hops)
		return 2
	}
	inFlightSet := false
	fs.Visit(func(f *flag.Flag) { inFlightSet = inFlightSet || f.Name == "inflight" })
	if !inFlightSet {
		*inFlight = 64
		if *hops == 3 {
			*inFlight = 4
		}
	}
	switch {
	case *inFlight < 1 || *inFlight > 4096:
		fmt.Fprintf(stderr, "fractals ledger bench: --inflight %d out of range 1..4096\n", *inFlight)
		return 2
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "fractals ledger bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "fractals-ledger-bench-")
		if err != nil {
			fmt.Fprintf(stderr, "fractals ledger bench: %v\n", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	r, err := ledger.RunBench(context.Background(), ledger.BenchConfig{Transfers: *transfers, Hops: *hops, InFlight: *inFlight, Dir: *dir})
	if err != nil {
		fmt.Fprintf(stderr, "fractals ledger bench: %v\n", err)
		return 1
	}
	if *asJSON {
		return writeJSON(stdout, stderr, "fractals ledger bench", r, false)
	}
	fmt.Fprintf(stdout, "%d transfers over %d hop(s) in %.3f s: %.0f transfers/s, p50 %.3f ms, p99 %.3f ms, %d commits (mean %.3f ms, max %.1f ms), sign+verify %.1f µs\n",
		r.Transfers, r.Hops, r.Seconds, r.TPS, r.P50ms, r.P99ms, r.Commits, r.CommitMeanMs, r.CommitMaxMs, r.SignVerifyUs)
	if r.Note != "" {
		fmt.Fprintln(stdout, "note:", r.Note)
	}
	return 0
}
