package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/fractals-energy/fractals/internal/cli"
)

func init() {
	register(command{name: "island", summary: "planned island on a running unit: island on|off [--addr 127.0.0.1:8080]", run: runIsland})
}

// runIsland posts the planned-island command to a unit's API and prints the island state it answers.
func runIsland(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fractals island", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "host:port of the unit's HTTP API")
	// Flags may come before or after the on|off argument.
	var pos []string
	rest := args
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
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != 1 || (pos[0] != "on" && pos[0] != "off") {
		return cli.Errorf(stderr, fs, "want exactly one argument, on or off, got %q", pos)
	}
	body := fmt.Sprintf(`{"island": %v}`, pos[0] == "on")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post("http://"+*addr+"/api/island", "application/json", bytes.NewBufferString(body))
	if err != nil {
		fmt.Fprintf(stderr, "fractals island: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	if _, err := out.ReadFrom(io.LimitReader(resp.Body, 1<<20)); err != nil {
		fmt.Fprintf(stderr, "fractals island: reading the answer of %s: %v\n", *addr, err)
		return 1
	}
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "fractals island: %s answered %s: %s", *addr, resp.Status, out.String())
		return 1
	}
	_, _ = stdout.Write(out.Bytes())
	return 0
}
