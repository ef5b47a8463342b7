package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/firmware/telemetry"
	"github.com/fractals-energy/fractals/internal/cli"
	"github.com/fractals-energy/fractals/internal/clock"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	o := firmware.DefaultSimOptions()
	fs := flag.NewFlagSet("fractalsd", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8080", "address of the HTTP API")
	fs.DurationVar(&o.Step, "cycle", o.Step, "control cycle, [100ms, 10s]")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "random seed of the simulated plant")
	fs.Float64Var(&o.Latitude, "latitude", o.Latitude, "latitude of the simulated plant, [-66, 66]")
	fs.Float64Var(&o.PVKW, "pv-kw", o.PVKW, "PV DC rating in kW, [0, 1000]")
	fs.Float64Var(&o.BatteryKWh, "battery-kwh", o.BatteryKWh, "battery capacity in kWh, (0, 10000]")
	communityUnits := fs.Int("community", 0, "run this many simulated units (2..10) on loopback devp2p, APIs on consecutive ports from --listen's")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	configPath := fs.String("config", "", "unit configuration (YAML): run against its real devices instead of the simulated plant")
	var of opsFlags
	fs.StringVar(&of.dataDir, "data-dir", "", "directory of the state file (energy counters, controller state); overrides data_dir")
	fs.StringVar(&of.telemetry, "telemetry", "", "operations file (YAML: data_dir, telemetry) for the simulated unit")
	fs.StringVar(&of.checkConfig, "check-config", "", "validate this unit configuration and exit (0: valid, 1: not)")
	fs.DurationVar(&of.footprint, "footprint", 0, "run the simulated unit this long in simulated time as fast as possible, print its RSS and exit")
	if ok, help := cli.Parse(fs, args, 0, stderr); !ok {
		if help {
			return cli.ExitOK
		}
		return cli.ExitUsage
	}
	if of.checkConfig != "" {
		return checkConfig(of.checkConfig, os.Stdout, stderr)
	}
	var handler slog.Handler
	switch *logFormat {
	case "text":
		handler = slog.NewTextHandler(os.Stdout, nil)
	case "json":
		handler = slog.NewJSONHandler(os.Stdout, nil)
	default:
		return cli.Errorf(stderr, fs, "--log-format %q is not text or json", *logFormat)
	}
	// The simulator's options name its own flags; the daemon's cycle is --cycle.
	if !(o.Step >= 100*time.Millisecond && o.Step <= 10*time.Second) {
		return cli.Errorf(stderr, fs, "--cycle %v out of range [100ms, 10s]", o.Step)
	}
	if err := o.Validate(); err != nil {
		return cli.Errorf(stderr, fs, "%v", err)
	}
	if err := checkListen(*listen); err != nil {
		return cli.Errorf(stderr, fs, "--listen %q: %v (want host:port, port 0..65535)", *listen, err)
	}
	if of.footprint > 0 {
		return footprint(o, of, os.Stdout, stderr)
	}
	log := slog.New(handler)
	if *communityUnits != 0 {
		return startCommunity(*communityUnits, *listen, o, log, stderr)
	}
	var d *firmware.Daemon
	var err error
	var unitFile *config.Unit
	if *configPath != "" {
		var hw *firmware.Hardware
		if unitFile, err = config.Load(*configPath); err != nil {
			fmt.Fprintf(stderr, "fractalsd: %v\n", err)
			return 2
		}
		if d, hw, err = firmware.NewDeviceDaemon(unitFile, clock.Real{}, log); err != nil {
			fmt.Fprintf(stderr, "fractalsd: %v\n", err)
			return 2
		}
		defer hw.Close()
		l, err := firmware.StartConfiguredLedger(context.Background(), *configPath, d, clock.Real{}, log)
		if err != nil {
			fmt.Fprintf(stderr, "fractalsd: %v\n", err)
			return 2
		}
		if l != nil {
			defer l.Shutdown()
		}
	} else if d, err = firmware.NewSimDaemon(o, clock.Real{}, log); err != nil {
		fmt.Fprintf(stderr, "fractalsd: %v\n", err)
		return 2
	}
	meshNode, err := firmware.StartConfiguredMesh(*configPath, log)
	if err != nil {
		fmt.Fprintf(stderr, "fractalsd: %v\n", err)
		return 2
	}
	if meshNode != nil {
		defer meshNode.Close()
		d.AttachMesh(meshNode)
		market, err := firmware.StartConfiguredMarket(unitFile, d, meshNode, log)
		if err != nil {
			fmt.Fprintf(stderr, "fractalsd: %v\n", err)
			return 2
		}
		if market != nil {
			defer market.Close()
		}
	}
	setup, err := setupOps(of, unitFile, log)
	if err != nil {
		fmt.Fprintf(stderr, "fractalsd: %v\n", err)
		return 2
	}
	ops, err := telemetry.Start(d, setup)
	if err != nil {
		fmt.Fprintf(stderr, "fractalsd: %v\n", err)
		return 1
	}
	defer ops.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "fractalsd: --listen %s: %v\n", *listen, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := d.Run(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "fractalsd: %v\n", err)
		return 1
	}
	log.Info("stopped cleanly")
	return 0
}

// checkListen refuses an address that can never be listened on, so that a typo is a usage error
// (exit 2) and only a refused bind (port in use, no permission) is a runtime failure (exit 1).
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number in 0..65535", port)
	}
	return nil
}
