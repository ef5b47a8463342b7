package auction

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// fractalTree starts n units in a binary cluster tree (u00 the root, u0k's parent u0((k-1)/2)), each
// with a seeded buyer and seller.
func fractalTree(t *testing.T, h *netHarness, n int, rng *rand.Rand) []Bid {
	t.Helper()
	grid := PriceGrid{Min: 0, Max: 1, Steps: 201}
	var all []Bid
	for k := range n {
		id := fmt.Sprintf("u%02d", k)
		bids := []Bid{
			{ID: id + "/load", Side: Buy, Price: 0.1 + 0.6*rng.Float64(), Quantity: 200 + 800*rng.Float64()},
			{ID: id + "/pv", Side: Sell, Price: 0.05 + 0.4*rng.Float64(), Quantity: 200 + 800*rng.Float64()},
		}
		all = append(all, bids...)
		depth := 0
		for j := k; j > 0; j = (j - 1) / 2 {
			depth++
		}
		// A parent waits longer than its children, so a silent leaf costs only its own curve.
		cfg := FractalConfig{ID: id, Interval: 3, Bids: bids, Grid: grid, Start: h.now, ChildTimeout: time.Duration(4-depth) * time.Second}
		if k > 0 {
			cfg.Parent = fmt.Sprintf("u%02d", (k-1)/2)
		}
		for _, c := range []int{2*k + 1, 2*k + 2} {
			if c < n {
				cfg.Children = append(cfg.Children, fmt.Sprintf("u%02d", c))
			}
		}
		p, err := NewFractalPeer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		h.add(id, p)
	}
	return all
}

// TestFractalTreeClears: seven units clear up a binary tree at the price the flat double auction finds
// for all their bids (within the grid's resolution), every trade agreed by both ends, and the units'
// own net demands at that price summing to (almost) zero.
func TestFractalTreeClears(t *testing.T) {
	h := newHarness(11)
	all := fractalTree(t, h, 7, rand.New(rand.NewPCG(81, 9)))
	h.run(t, time.Minute)
	checkTradesAgree(t, h.results)
	flat, err := Market{}.Clear(all)
	if err != nil {
		t.Fatal(err)
	}
	price := float64(h.results["u01"].Trades[0].PricePerKWh)
	var net float64
	for _, r := range h.results {
		for _, s := range r.Schedules {
			net += s[0]
		}
	}
	t.Logf("fractal price %.4f, flat double auction %.4f (%v); net demand at the price %.3f W", price, flat.Price, flat.Type, net)
	if math.Abs(price-flat.Price) > 0.01 {
		t.Fatalf("fractal price %v, flat clearing %v", price, flat.Price)
	}
	if math.Abs(net) > 50 {
		t.Fatalf("net demand at the cleared price %v W", net)
	}
}

// TestFractalSilentChildDropped: a leaf that never sends its curve is dropped by its parent after the
// timeout, and the rest of the tree still clears.
func TestFractalSilentChildDropped(t *testing.T) {
	h := newHarness(12)
	h.killAt["u06"] = 0
	fractalTree(t, h, 7, rand.New(rand.NewPCG(82, 9)))
	h.run(t, time.Minute)
	checkTradesAgree(t, h.results)
	if d := h.results["u02"].Dropped; len(d) != 1 || d[0] != "u06" {
		t.Fatalf("u02 dropped %v, want u06", d)
	}
	if !h.results["u05"].Converged {
		t.Fatalf("u05: %+v", h.results["u05"])
	}
}

func FuzzDecodeFractalMessage(f *testing.F) {
	for _, m := range []FractalMessage{
		{Kind: KindCurve, Interval: 1, Curve: Curve{Grid: PriceGrid{Min: 0, Max: 1, Steps: 3}, Demand: []float64{5, 0, -2}}},
		{Kind: KindPrice, Interval: 2, Price: 0.25},
	} {
		b, err := m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeFractalMessage(data)
		if err != nil {
			if !strings.Contains(err.Error(), "fractal message") {
				t.Fatalf("error %q does not say what it is about", err)
			}
			return
		}
		again, err := m.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted message does not encode back to the same bytes: %v", err)
		}
	})
}
