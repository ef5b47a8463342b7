package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fractals-energy/fractals/firmware"
)

func init() {
	register(command{name: "mesh", summary: "the mesh of a running daemon: mesh [--api URL] [--json]", run: runMesh})
}

func runMesh(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mesh", flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := fs.String("api", "http://127.0.0.1:8080", "base URL of the daemon's HTTP API")
	asJSON := fs.Bool("json", false, "print the daemon's JSON as it is")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fractals mesh: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if !strings.HasPrefix(*api, "http://") && !strings.HasPrefix(*api, "https://") {
		fmt.Fprintf(stderr, "fractals mesh: --api %q: want an http:// or https:// URL\n", *api)
		return 2
	}
	st, err := fetchMesh(strings.TrimRight(*api, "/") + "/api/mesh")
	if err != nil {
		fmt.Fprintf(stderr, "fractals mesh: %v\n", err)
		return 1
	}
	if *asJSON {
		return writeJSON(stdout, stderr, "fractals mesh", st, true)
	}
	printMesh(stdout, st)
	return 0
}

func fetchMesh(url string) (*firmware.MeshStatus, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	var st firmware.MeshStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return &st, nil
}

func printMesh(w io.Writer, st *firmware.MeshStatus) {
	fmt.Fprintf(w, "unit      %s\ncommunity %s\nenode     %s\nenr       %s\n", st.Address.Hex(), st.Community, st.Enode, st.ENR)
	c := st.Counters
	fmt.Fprintf(w, "messages  %d delivered, %d relayed, %d duplicates, %d rejected, %d queued, %d expired, %d throttled\n\n",
		c.Delivered, c.Relayed, c.Duplicates, c.Rejected, c.Queued, c.Expired, c.Throttled)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tADDRESS\tDIR\tUP\tRTT\tMSGS IN/OUT\tBYTES IN/OUT\tSCORE\tCAPABILITIES")
	for _, p := range st.Peers {
		dir := "out"
		if p.Inbound {
			dir = "in"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%v\t%d/%d\t%d/%d\t%d\t%s\n", p.Address.Hex(), p.Remote, dir, p.Connected,
			p.RTT.Round(time.Microsecond), p.MsgsIn, p.MsgsOut, p.BytesIn, p.BytesOut, p.Score, strings.Join(p.Capabilities, ","))
	}
	tw.Flush()
	if len(st.Peers) == 0 {
		fmt.Fprintln(w, "(no peers)")
	}
}
