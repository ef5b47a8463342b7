package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/fractals-energy/fractals/firmware"
	scenarioreport "github.com/fractals-energy/fractals/firmware/report"
	"github.com/fractals-energy/fractals/hil/scenario"
	"github.com/fractals-energy/fractals/internal/cli"
)

func init() {
	register(command{name: "scenario", summary: "run a HIL scenario in simulated time: scenario run FILE.yaml --report DIR [--units N --feeder case.m] | scenario campaign --n 200 --seed S", run: runScenario})
}

// runScenario runs one scenario file, writes its report and exits 0 only if every assertion held.
func runScenario(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "campaign" {
		return runCampaign(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprintln(stderr, "fractals scenario: want `scenario run FILE.yaml --report DIR` or `scenario campaign --n N --seed S`")
		return cli.ExitUsage
	}
	fs := flag.NewFlagSet("fractals scenario run", flag.ContinueOnError)
	report := fs.String("report", "", "directory for report.json, the PNG plots and index.html")
	jsonOut := fs.Bool("json", false, "print the result as JSON instead of a table")
	unitsN := fs.Int("units", 0, "run the scenario with this many units on one community feeder, [1, 20] (0: as the file says)")
	feeder := fs.String("feeder", "", "MATPOWER case of the community feeder (overrides the file's feeder)")
	var files []string
	rest := args[1:]
	for len(rest) > 0 {
		if ok, help := cli.Parse(fs, rest, -1, stderr); !ok {
			if help {
				return cli.ExitOK
			}
			return cli.ExitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(files) != 1 {
		return cli.Errorf(stderr, fs, "want exactly one scenario file, got %d", len(files))
	}
	s, err := scenario.ReadFile(files[0])
	if err != nil {
		fmt.Fprintf(stderr, "fractals scenario: %v\n", err)
		return cli.ExitUsage
	}
	if *unitsN < 0 || *unitsN > 20 {
		return cli.Errorf(stderr, fs, "--units %d out of range [1, 20]", *unitsN)
	}
	if *unitsN > 0 {
		s.Units = *unitsN
		if len(s.BatteriesKWh) != s.Units {
			s.BatteriesKWh = nil // the file's list is for its own count of units
		}
	}
	if *feeder != "" {
		s.Feeder = *feeder
	}
	res, err := firmware.RunScenario(context.Background(), s)
	if err != nil {
		fmt.Fprintf(stderr, "fractals scenario: %s: %v\n", s.Name, err)
		return 1
	}
	if *report != "" {
		if err := scenarioreport.WriteScenario(*report, &res); err != nil {
			fmt.Fprintf(stderr, "fractals scenario: %v\n", err)
			return 1
		}
	}
	if *jsonOut {
		if code := writeJSON(stdout, stderr, "fractals scenario", res, true); code != 0 {
			return code
		}
	} else {
		fmt.Fprintf(stdout, "%s: %s (%.0f s simulated in %.2f s)\n", s.Name, passFail(res.Pass), res.SimSeconds, res.WallSeconds)
		for _, v := range res.Verdicts {
			fmt.Fprintf(stdout, "  %-18s %-5s want %s, measured %s\n", v.Kind, passFail(v.Pass), v.Want, v.Measured)
		}
	}
	if !res.Pass {
		return 1
	}
	return 0
}

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

// runCampaign runs randomised outages and prints the distributions; exit 0 only if every run passed.
func runCampaign(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fractals scenario campaign", flag.ContinueOnError)
	n := fs.Int("n", 200, "number of randomised outages, [1, 10000]")
	seed := fs.Uint64("seed", 1, "campaign seed")
	runs := fs.Bool("runs", false, "include every run in the JSON output")
	if ok, help := cli.Parse(fs, args, 0, stderr); !ok {
		if help {
			return cli.ExitOK
		}
		return cli.ExitUsage
	}
	res, err := firmware.RunCampaign(context.Background(), *n, *seed)
	if err != nil {
		return cli.Errorf(stderr, fs, "%v", err)
	}
	if !*runs {
		failed := res.Runs[:0:0]
		for _, r := range res.Runs {
			if !r.Pass {
				failed = append(failed, r)
			}
		}
		res.Runs = failed // only the failures, to keep the output short
	}
	if code := writeJSON(stdout, stderr, "fractals scenario campaign", res, true); code != 0 {
		return code
	}
	if res.Passed != res.N {
		return 1
	}
	return 0
}
