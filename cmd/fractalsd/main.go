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
	logFormat := fs.String("log-format", "text", "log format: text or json")
	configPath := fs.String("config", "", "unit configuration (YAML): run against its real devices instead of the simulated plant")
	if ok, help := cli.Parse(fs, args, 0, stderr); !ok {
		if help {
			return cli.ExitOK
		}
		return cli.ExitUsage
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
	log := slog.New(handler)
	var d *firmware.Daemon
	var err error
	if *configPath != "" {
		var hw *firmware.Hardware
		if d, hw, err = firmware.LoadDeviceDaemon(*configPath, clock.Real{}, log); err != nil {
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
