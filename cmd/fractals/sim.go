package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/internal/cli"
)

func init() {
	register(command{name: "sim", summary: "run simulated units in simulated time as fast as possible", run: runSim})
}

func runSim(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o, co, asJSON, code := parseSimCommunity(args, stderr)
	if code >= 0 {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if co != nil {
		return runCommunity(ctx, *co, asJSON, stdout, stderr)
	}
	r, err := firmware.Simulate(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "fractals sim: %v\n", err)
		return cli.ExitFailure
	}
	if asJSON {
		return writeJSON(stdout, stderr, "fractals sim", r, false)
	}
	printSim(stdout, r)
	return cli.ExitOK
}

// parseSim reads the flags into options; code is the exit status when the command must stop (help or
// bad usage), -1 when it should run.
func parseSim(args []string, stderr io.Writer) (o firmware.SimOptions, asJSON bool, code int) {
	o, _, asJSON, code = parseSimCommunity(args, stderr)
	return o, asJSON, code
}

// parseSimCommunity is parseSim that also returns the community run when --market or --feeder asks
// for one (nil otherwise).
func parseSimCommunity(args []string, stderr io.Writer) (o firmware.SimOptions, co *firmware.CommunityOptions, asJSON bool, code int) {
	o = firmware.DefaultSimOptions()
	fs := flag.NewFlagSet("fractals sim", flag.ContinueOnError)
	community := communityFlagsOn(fs)
	fs.IntVar(&o.Units, "units", o.Units, "number of units, [1, 10000]")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "simulated time, [step, 8784h]")
	fs.DurationVar(&o.Step, "step", o.Step, "plant step and control cycle, [100ms, 10s]")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "random seed (weather, loads)")
	fs.Float64Var(&o.Latitude, "latitude", o.Latitude, "latitude in degrees, [-66, 66]")
	fs.IntVar(&o.Day, "day", o.Day, "day of year, [1, 366]")
	fs.Float64Var(&o.PVKW, "pv-kw", o.PVKW, "PV array DC rating in kW per unit, [0, 1000]")
	fs.Float64Var(&o.BatteryKWh, "battery-kwh", o.BatteryKWh, "battery capacity in kWh per unit, (0, 10000]")
	fs.Float64Var(&o.EVKWh, "ev-kwh", o.EVKWh, "energy each EV session asks for by --ev-depart in kWh, [0, 200] (0: no EV)")
	fs.Float64Var(&o.EVArriveHour, "ev-arrive", o.EVArriveHour, "hour of the day the EV plugs in, [0, 24)")
	fs.Float64Var(&o.EVDepartHour, "ev-depart", o.EVDepartHour, "hour of the day the EV leaves (its deadline), [0, 24), not --ev-arrive")
	gridFlag := onOff{on: o.Grid}
	fs.Var(&gridFlag, "grid", "utility grid: on or off")
	fs.BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	if ok, help := cli.Parse(fs, args, 0, stderr); !ok {
		if help {
			return o, nil, false, cli.ExitOK
		}
		return o, nil, false, cli.ExitUsage
	}
	o.Grid = gridFlag.on
	if err := o.Validate(); err != nil {
		return o, nil, false, cli.Errorf(stderr, fs, "%v", err)
	}
	if community.enabled() {
		c, err := community.options(fs, o)
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			return o, nil, false, cli.Errorf(stderr, fs, "%v", err)
		}
		co = &c
	}
	return o, co, asJSON, -1
}

func printSim(w io.Writer, r firmware.SimResult) {
	e := r.Energy
	fmt.Fprintf(w, "%d unit(s), %.0f h simulated in %.2f s (%d cycles)\n", r.Units, r.SimSeconds/3600, r.WallSeconds, r.Cycles)
	fmt.Fprintf(w, "PV          %9.0f Wh  (curtailed %.0f Wh)\n", e.PV, e.PVCurtailed)
	fmt.Fprintf(w, "load        %9.0f Wh  (critical %.0f, services %.0f, EV %.0f)\n", e.Load, e.CriticalLoad, e.ServicesLoad, e.EV)
	fmt.Fprintf(w, "unserved    critical %.0f Wh, services %.0f Wh\n", e.CriticalUnserved, e.ServicesUnserved)
	fmt.Fprintf(w, "battery     +%.0f / -%.0f Wh, stored %.0f -> %.0f Wh, SoC %.3f..%.3f\n", e.BatteryCharge, e.BatteryDischarge,
		r.Battery.StoredStart, r.Battery.StoredEnd, r.Battery.SoCMin, r.Battery.SoCMax)
	fmt.Fprintf(w, "grid        import %.0f Wh, export %.0f Wh, islanded %.1f h\n", e.GridImport, e.GridExport, r.IslandedHours)
	met := "no session ended"
	if r.EV.DeadlineMet != nil {
		met = fmt.Sprint(*r.EV.DeadlineMet)
	}
	fmt.Fprintf(w, "EV          %d session(s), %.0f of %.0f Wh, deadline met: %s\n", r.EV.Sessions, r.EV.Delivered, r.EV.Needed, met)
}

// onOff is a flag that accepts exactly "on" or "off".
type onOff struct{ on bool }

func (f *onOff) String() string {
	if f.on {
		return "on"
	}
	return "off"
}

func (f *onOff) Set(s string) error {
	switch s {
	case "on":
		f.on = true
	case "off":
		f.on = false
	default:
		return fmt.Errorf("%q is not on or off", s)
	}
	return nil
}
