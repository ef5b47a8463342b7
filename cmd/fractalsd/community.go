package main

import (
	"context"
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
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/clock"
)

// communityMesh is the devp2p community name the loopback units join.
const communityMesh = "fractals-run"

// runCommunity runs n simulated units in one process, each with its own plant (seed o.Seed+i), its
// own status API, dashboard (/) and /metrics on listeners[i] and its own devp2p mesh node on
// loopback, the nodes dialling each other, and its consensus market clearing with the others over
// that mesh every communityInterval (GET /api/market shows the last interval); the units start
// together, so they clear the interval under way as soon as they see each other, then every interval
// from the next boundary.
func runCommunity(ctx context.Context, o firmware.SimOptions, listeners []net.Listener, log *slog.Logger) error {
	nodes, err := firmware.StartLoopbackCommunity(len(listeners), communityMesh)
	if err != nil {
		return fmt.Errorf("community mesh: %w", err)
	}
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(listeners))
	running := 0
	for i, ln := range listeners {
		uo := o
		uo.Seed = o.Seed + uint64(i)
		d, err := firmware.NewSimDaemon(uo, clock.Real{}, log.With("unit", i))
		if err != nil {
			return fmt.Errorf("unit %d: %w", i, err)
		}
		d.AttachMesh(nodes[i])
		ops, err := startCommunityOps(d, i, log)
		if err != nil {
			return fmt.Errorf("unit %d: %w", i, err)
		}
		defer ops.Close()
		m, err := firmware.NewSimMarket(d, uo, nodes[i], communityMarket(), firmware.UnitMarketOptions{Hops: 2, StartWith: len(listeners) - 1}, log.With("unit", i))
		if err != nil {
			return fmt.Errorf("unit %d: market: %w", i, err)
		}
		defer m.Close()
		d.AttachMarket(m)
		log.Info("community unit", "unit", i, "api", "http://"+ln.Addr().String()+"/api/status",
			"market", "http://"+ln.Addr().String()+"/api/market",
			"mesh", "http://"+ln.Addr().String()+"/api/mesh", "enode", nodes[i].Enode().URLv4())
		running++
		go func() { errs <- d.Run(ctx, ln) }()
	}
	// The first unit to stop (an error, or all of them on ctx's end) stops the others.
	var first error
	for range running {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

// communityMarket is the loopback community's market: the shortest interval, so that the first one
// clears within five minutes of starting, over a six-hour horizon.
func communityMarket() fractals.MarketConfig {
	mc := fractals.DefaultMarketConfig()
	mc.Interval, mc.Horizon = 5*time.Minute, 6*time.Hour
	return mc
}

// startCommunity listens on n consecutive ports from listen's and runs the community until a signal.
func startCommunity(n int, listen string, o firmware.SimOptions, log *slog.Logger, stderr io.Writer) int {
	if n < 2 || n > 10 {
		fmt.Fprintf(stderr, "fractalsd: --community %d out of range [2, 10]\n", n)
		return 2
	}
	host, portText, _ := net.SplitHostPort(listen)
	port, _ := strconv.Atoi(portText)
	var listeners []net.Listener
	defer func() {
		for _, ln := range listeners {
			ln.Close()
		}
	}()
	for i := range n {
		addr := net.JoinHostPort(host, strconv.Itoa(port+i))
		if port == 0 {
			addr = net.JoinHostPort(host, "0")
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintf(stderr, "fractalsd: unit %d: --listen %s: %v\n", i, addr, err)
			return 1
		}
		listeners = append(listeners, ln)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runCommunity(ctx, o, listeners, log); err != nil {
		fmt.Fprintf(stderr, "fractalsd: %v\n", err)
		return 1
	}
	log.Info("community stopped cleanly")
	return 0
}
