package sunspec

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/clock"
)

// A slow model (nameplate) is read every SlowEvery polls: it must not go stale between two of its
// scheduled reads, while a fast model does as soon as its polls stop.
func TestSlowModelsStayFreshBetweenScheduledReads(t *testing.T) {
	clk := clock.NewSim(time.Date(2026, 6, 21, 12, 0, 0, 0, time.UTC))
	m := inverterMap(t)
	dev := NewDevice("inverter", m.Registers(), fastModels, clk, 1500*time.Millisecond)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if err := dev.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	if _, err := dev.Block(120); err != nil {
		t.Fatalf("nameplate between scheduled reads: %v", err)
	}
	if _, err := dev.Block(103); err != nil {
		t.Fatalf("fast model polled each second: %v", err)
	}
	clk.Advance(2 * time.Second) // polls stop
	if _, err := dev.Block(103); !errors.Is(err, der.ErrStale) {
		t.Fatalf("fast model unread for 3 s with a 1.5 s limit: %v, want ErrStale", err)
	}
	if _, err := dev.Block(120); err != nil {
		t.Fatalf("slow model still inside SlowEvery × limit: %v", err)
	}
}
