package auction

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestCurveAggregationIsFractal(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	g := PriceGrid{Min: 0, Max: 100, Steps: 101}
	for trial := range 50 {
		var all []Bid
		var members []Curve
		for m := range 2 + rng.IntN(5) {
			var bids []Bid
			for i := range 1 + rng.IntN(10) {
				side := Buy
				if rng.IntN(2) == 0 {
					side = Sell
				}
				// On grid prices the sampled curve is exact, so the cluster must clear like its members.
				bids = append(bids, Bid{ID: fmt.Sprint(m, "/", i), Side: side, Price: float64(rng.IntN(101)), Quantity: float64(1 + rng.IntN(9))})
			}
			c, err := g.CurveOf(bids)
			if err != nil {
				t.Fatal(err)
			}
			members = append(members, c)
			all = append(all, bids...)
		}
		cluster, err := Aggregate(members...)
		if err != nil {
			t.Fatal(err)
		}
		direct, err := g.CurveOf(all)
		if err != nil {
			t.Fatal(err)
		}
		resampled, err := g.CurveOf(cluster.Bids("cluster"))
		if err != nil {
			t.Fatal(err)
		}
		for k := range g.Steps {
			if math.Abs(cluster.Demand[k]-direct.Demand[k]) > 1e-9 || math.Abs(resampled.Demand[k]-direct.Demand[k]) > 1e-9 {
				t.Fatalf("trial %d at %g: cluster %g, members %g, cluster bids %g", trial, g.Price(k), cluster.Demand[k], direct.Demand[k], resampled.Demand[k])
			}
		}
		if p, ok := cluster.Equilibrium(); ok && math.Abs(cluster.At(p)) > 1e-9 {
			t.Fatalf("trial %d: demand %g at equilibrium %g", trial, cluster.At(p), p)
		}
	}
}

func TestCurveEquilibriumInterpolates(t *testing.T) {
	c := Curve{Grid: PriceGrid{Min: 10, Max: 30, Steps: 3}, Demand: []float64{10, 4, -6}}
	p, ok := c.Equilibrium()
	if !ok || math.Abs(p-24) > 1e-12 {
		t.Fatalf("equilibrium %g %v, want 24", p, ok)
	}
	if got := c.At(15); math.Abs(got-7) > 1e-12 {
		t.Fatalf("At(15) = %g, want 7", got)
	}
	if err := (Curve{Grid: c.Grid, Demand: []float64{1, 2, 0}}).Validate(); err == nil {
		t.Fatal("increasing demand accepted")
	}
	if _, err := Aggregate(c, Curve{Grid: PriceGrid{Min: 0, Max: 1, Steps: 3}, Demand: []float64{0, 0, 0}}); err == nil {
		t.Fatal("curves on different grids aggregated")
	}
}

// TestCurveThatDoesNotFitItsGrid: At and Equilibrium indexed Demand by the grid's steps and panicked on
// a curve with fewer points; such a curve (or one on an invalid grid) now reads NaN.
func TestCurveThatDoesNotFitItsGrid(t *testing.T) {
	curves := []Curve{
		{Grid: PriceGrid{Min: 10, Max: 30, Steps: 3}, Demand: []float64{10}},
		{Grid: PriceGrid{Min: 10, Max: 30, Steps: 3}},
		{Grid: PriceGrid{Min: 10, Max: 30, Steps: 0}},
		{Grid: PriceGrid{Min: 10, Max: 30, Steps: 1}, Demand: []float64{1}},
	}
	for _, c := range curves {
		for _, p := range []float64{0, 15, 40} {
			if got := c.At(p); !math.IsNaN(got) {
				t.Errorf("%+v: At(%g) = %g, want NaN", c, p, got)
			}
		}
		if p, ok := c.Equilibrium(); ok || !math.IsNaN(p) {
			t.Errorf("%+v: equilibrium %g %v, want NaN false", c, p, ok)
		}
	}
	good := Curve{Grid: PriceGrid{Min: 10, Max: 30, Steps: 3}, Demand: []float64{10, 4, -6}}
	if !math.IsNaN(good.At(math.NaN())) {
		t.Error("At(NaN) not NaN")
	}
}
