package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/internal/clock"
)

func TestIslandCommandAgainstARunningUnit(t *testing.T) {
	clk := clock.NewSim(time.Date(2026, 6, 21, 12, 0, 0, 0, time.UTC))
	d, err := firmware.NewSimDaemon(firmware.DefaultSimOptions(), clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, ln) }()
	defer func() { cancel(); <-done }()
	var out, errb bytes.Buffer
	if code := dispatch([]string{"island", "on", "--addr", ln.Addr().String()}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `"planned": true`) {
		t.Fatalf("answer %s", out.String())
	}
	errb.Reset()
	if code := dispatch([]string{"island", "maybe"}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "on or off") {
		t.Fatalf("bad argument: exit %d, %s", code, errb.String())
	}
}
