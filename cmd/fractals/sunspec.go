package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/der/sunspec"
)

func init() {
	register(command{name: "sunspec", summary: "scan a SunSpec device over Modbus TCP: sunspec scan --addr HOST:PORT [--unit N] [--json]", run: runSunSpec})
}

func runSunSpec(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "scan" {
		fmt.Fprintln(stderr, "fractals sunspec: sub-command must be scan (usage: fractals sunspec scan --addr HOST:PORT [--unit N] [--json])")
		return 2
	}
	fs := flag.NewFlagSet("sunspec scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "Modbus TCP address HOST:PORT of the device or gateway")
	unit := fs.Int("unit", 1, "Modbus unit id, 0..247")
	asJSON := fs.Bool("json", false, "print JSON instead of a listing")
	timeout := fs.Duration("timeout", 2*time.Second, "timeout of each Modbus request, 10ms..60s")
	total := fs.Duration("deadline", 60*time.Second, "deadline of the whole scan")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		fmt.Fprintf(stderr, "fractals sunspec scan: --addr %q: want HOST:PORT\n", *addr)
		return 2
	}
	if *unit < 0 || *unit > 247 {
		fmt.Fprintf(stderr, "fractals sunspec scan: --unit %d: accepted range 0..247\n", *unit)
		return 2
	}
	if *timeout < 10*time.Millisecond || *timeout > time.Minute {
		fmt.Fprintf(stderr, "fractals sunspec scan: --timeout %v: accepted range 10ms..60s\n", *timeout)
		return 2
	}
	g, err := modbus.NewGateway(modbus.Config{Address: *addr, Timeout: *timeout})
	if err != nil {
		fmt.Fprintf(stderr, "fractals sunspec scan: %v\n", err)
		return 2
	}
	defer g.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *total)
	defer cancel()
	res, err := sunspec.Scan(ctx, g.Unit(byte(*unit)))
	if err != nil {
		fmt.Fprintf(stderr, "fractals sunspec scan: %s unit %d: %v\n", *addr, *unit, err)
		return 1
	}
	if *asJSON {
		err = res.WriteJSON(stdout)
	} else {
		err = res.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fractals sunspec scan: %v\n", err)
		return 1
	}
	return 0
}
