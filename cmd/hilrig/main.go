package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/hil/rig"
	"github.com/fractals-energy/fractals/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := rig.Config{Plant: hil.DefaultConfig()}
	cfg.Plant.Start = time.Date(2026, 6, 21, 12, 0, 0, 0, time.UTC)
	fs := flag.NewFlagSet("hilrig", flag.ContinueOnError)
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:5020", "Modbus TCP address of the SunSpec devices (host:port)")
	fs.StringVar(&cfg.PinListen, "pins", "127.0.0.1:0", "address of the GPIO pin server (host:port; loopback unless --pins-remote)")
	fs.BoolVar(&cfg.PinsRemote, "pins-remote", false, "allow the pin server (no authentication) on a non-loopback address")
	fs.StringVar(&cfg.Broker, "broker", "", "external MQTT broker, tcp://host:port (e.g. Mosquitto); empty: embedded broker")
	fs.StringVar(&cfg.BrokerListen, "broker-listen", "127.0.0.1:0", "address of the embedded MQTT broker")
	fs.StringVar(&cfg.Topic, "topic", "meshbox", "MQTT topic prefix")
	fs.StringVar(&cfg.HostapdSocket, "hostapd-socket", "", "unix socket path where the access point's hostapd control interface is emulated (with the IGFS storage node's HTTP API); empty: neither")
	httpAddr := fs.String("http", "127.0.0.1:0", "address of the truth/fault HTTP API")
	fs.Float64Var(&cfg.Speed, "speed", 1, "plant seconds per wall second, (0, 3600]")
	fs.DurationVar(&cfg.Tick, "tick", 100*time.Millisecond, "wall time between plant steps, [10ms, 1s]")
	fs.DurationVar(&cfg.EVRevert, "ev-revert", time.Minute, "EV charger revert timer, [1s, 1h]")
	start := fs.String("start", cfg.Plant.Start.Format(time.RFC3339), "plant start (local solar time, RFC 3339)")
	fs.Uint64Var(&cfg.Plant.Seed, "seed", cfg.Plant.Seed, "random seed of the plant")
	fs.Float64Var(&cfg.Plant.Latitude, "latitude", cfg.Plant.Latitude, "latitude of the plant, [-66, 66]")
	outages := fs.String("outage", "", "utility outages in plant time since start, FROM-TO[,FROM-TO...] (e.g. 30s-50s)")
	unitYAML := fs.String("write-config", "", "write a unit configuration for fractalsd --config pointing at this rig to this file")
	cycle := fs.Duration("cycle", time.Second, "the daemon's control cycle written with --write-config, [100ms, 10s]")
	if ok, help := cli.Parse(fs, args, 0, stderr); !ok {
		if help {
			return cli.ExitOK
		}
		return cli.ExitUsage
	}
	t, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		return cli.Errorf(stderr, fs, "--start %q: want RFC 3339 such as 2026-06-21T12:00:00Z", *start)
	}
	cfg.Plant.Start = t
	if cfg.Plant.Grid.Outages, err = parseOutages(*outages); err != nil {
		return cli.Errorf(stderr, fs, "--outage %q: %v", *outages, err)
	}
	switch {
	case !(cfg.Speed > 0 && cfg.Speed <= 3600):
		return cli.Errorf(stderr, fs, "--speed %g out of range (0, 3600]", cfg.Speed)
	case cfg.Tick < 10*time.Millisecond || cfg.Tick > time.Second:
		return cli.Errorf(stderr, fs, "--tick %v out of range [10ms, 1s]", cfg.Tick)
	case cfg.EVRevert < time.Second || cfg.EVRevert > time.Hour:
		return cli.Errorf(stderr, fs, "--ev-revert %v out of range [1s, 1h]", cfg.EVRevert)
	case *cycle < 100*time.Millisecond || *cycle > 10*time.Second:
		return cli.Errorf(stderr, fs, "--cycle %v out of range [100ms, 10s]", *cycle)
	case cfg.Broker != "" && !strings.HasPrefix(cfg.Broker, "tcp://"):
		return cli.Errorf(stderr, fs, "--broker %q: want tcp://host:port", cfg.Broker)
	}
	if err := cfg.Plant.Validate(); err != nil {
		return cli.Errorf(stderr, fs, "%v", err)
	}
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		fmt.Fprintf(stderr, "hilrig: --http %s: %v\n", *httpAddr, err)
		return 1
	}
	r, err := rig.Start(cfg)
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "hilrig: %v\n", err)
		return 1
	}
	defer r.Close()
	if *unitYAML != "" {
		if err := os.WriteFile(*unitYAML, []byte(r.UnitYAML(*cycle)), 0o644); err != nil {
			fmt.Fprintf(stderr, "hilrig: --write-config: %v\n", err)
			return 1
		}
	}
	srv := &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	enc := json.NewEncoder(stdout)
	for _, d := range r.Devices() {
		if err := enc.Encode(d); err != nil {
			fmt.Fprintf(stderr, "hilrig: %v\n", err)
			return 1
		}
	}
	_ = enc.Encode(rig.DeviceInfo{Device: "rig", Protocol: "http", Addr: ln.Addr().String()})
	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintf(stderr, "hilrig: http: %v\n", err)
		return 1
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	return 0
}

// parseOutages reads FROM-TO[,FROM-TO...] windows of plant time.
func parseOutages(s string) ([]hil.Outage, error) {
	if s == "" {
		return nil, nil
	}
	var out []hil.Outage
	for _, w := range strings.Split(s, ",") {
		from, to, ok := strings.Cut(w, "-")
		if !ok {
			return nil, fmt.Errorf("window %q: want FROM-TO such as 30s-50s", w)
		}
		f, err1 := time.ParseDuration(from)
		t, err2 := time.ParseDuration(to)
		if err1 != nil || err2 != nil || f < 0 || t <= f {
			return nil, fmt.Errorf("window %q: want 0 ≤ FROM < TO, as durations", w)
		}
		out = append(out, hil.Outage{From: f, To: t})
	}
	return out, nil
}
