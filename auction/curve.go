package auction

import (
	"fmt"
	"math"
)

// Bid curves on a price grid, as PowerMatcher does it: a curve is the net demand (bought minus sold) at
// every price of a shared grid, non-increasing in price and linear between grid prices. Curves on the same
// grid add up, so a cluster's curve is the sum of its members' and the cluster can bid upward as a single
// prosumer (the fractal structure): Bids turns any curve back into step bids for the parent's auction.

// PriceGrid is Steps equally spaced prices from Min to Max.
type PriceGrid struct {
	Min, Max float64
	Steps    int
}

// Validate says what is wrong with the grid.
func (g PriceGrid) Validate() error {
	if math.IsNaN(g.Min) || math.IsNaN(g.Max) || math.IsInf(g.Min, 0) || math.IsInf(g.Max, 0) || !(g.Max > g.Min) {
		return fmt.Errorf("price grid %g..%g, want finite Min < Max", g.Min, g.Max)
	}
	if g.Steps < 2 || g.Steps > 1<<20 {
		return fmt.Errorf("price grid steps %d, want 2..%d", g.Steps, 1<<20)
	}
	return nil
}

// Price is the i-th grid price.
func (g PriceGrid) Price(i int) float64 {
	if i == g.Steps-1 {
		return g.Max
	}
	return g.Min + float64(i)*(g.Max-g.Min)/float64(g.Steps-1)
}

// Curve is a net demand curve on a grid.
type Curve struct {
	Grid   PriceGrid
	Demand []float64 // net quantity bought at each grid price; non-increasing
}

// CurveOf samples step bids on the grid: at each grid price, the buyers bidding at least that price buy
// and the sellers asking at most that price sell.
func (g PriceGrid) CurveOf(bids []Bid) (Curve, error) {
	if err := g.Validate(); err != nil {
		return Curve{}, err
	}
	c := Curve{Grid: g, Demand: make([]float64, g.Steps)}
	for i, b := range bids {
		if err := b.Validate(i); err != nil {
			return Curve{}, err
		}
		side, q, p := b.effective(math.Inf(1))
		for k := range g.Steps {
			gp := g.Price(k)
			if side == Buy && p >= gp {
				c.Demand[k] += q
			} else if side == Sell && p <= gp {
				c.Demand[k] -= q
			}
		}
	}
	return c, nil
}

// Validate checks that the curve fits its grid, is finite and does not increase with price.
func (c Curve) Validate() error {
	if err := c.Grid.Validate(); err != nil {
		return err
	}
	if len(c.Demand) != c.Grid.Steps {
		return fmt.Errorf("curve has %d points, grid %d", len(c.Demand), c.Grid.Steps)
	}
	for i, d := range c.Demand {
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return fmt.Errorf("curve point %d: %v, want finite", i, d)
		}
		if i > 0 && d > c.Demand[i-1] {
			return fmt.Errorf("curve point %d: demand %g above %g at a lower price, want non-increasing", i, d, c.Demand[i-1])
		}
	}
	return nil
}

// Aggregate sums curves on the same grid: the curve of a cluster.
func Aggregate(curves ...Curve) (Curve, error) {
	if len(curves) == 0 {
		return Curve{}, fmt.Errorf("aggregate: no curves")
	}
	sum := Curve{Grid: curves[0].Grid, Demand: make([]float64, curves[0].Grid.Steps)}
	for i, c := range curves {
		if err := c.Validate(); err != nil {
			return Curve{}, fmt.Errorf("curve %d: %w", i, err)
		}
		if c.Grid != sum.Grid {
			return Curve{}, fmt.Errorf("curve %d: grid %+v, want %+v", i, c.Grid, sum.Grid)
		}
		for k, d := range c.Demand {
			sum.Demand[k] += d
		}
	}
	return sum, nil
}

// At is the net demand at price p, linear between grid prices and flat beyond the grid. A curve that
// does not fit its grid (fewer or more points than grid steps, or an invalid grid) or a NaN price gives
// NaN rather than a panic or a guess.
func (c Curve) At(p float64) float64 {
	g := c.Grid
	if !c.fitsGrid() || math.IsNaN(p) {
		return math.NaN()
	}
	if p <= g.Min {
		return c.Demand[0]
	}
	if p >= g.Max {
		return c.Demand[g.Steps-1]
	}
	x := (p - g.Min) / (g.Max - g.Min) * float64(g.Steps-1)
	k := min(int(x), g.Steps-2)
	f := x - float64(k)
	return c.Demand[k]*(1-f) + c.Demand[k+1]*f
}

// Equilibrium is the lowest price at which net demand reaches zero, interpolated between grid prices.
// ok is false when the curve never crosses zero: then the price is the end of the grid it leans on. A
// curve that does not fit its grid has no equilibrium: NaN, false.
func (c Curve) Equilibrium() (price float64, ok bool) {
	g := c.Grid
	if !c.fitsGrid() {
		return math.NaN(), false
	}
	if c.Demand[0] <= 0 {
		return g.Min, c.Demand[0] == 0
	}
	for k := 1; k < g.Steps; k++ {
		if c.Demand[k] <= 0 {
			hi, lo := c.Demand[k-1], c.Demand[k]
			f := hi / (hi - lo)
			return g.Price(k-1) + f*(g.Price(k)-g.Price(k-1)), true
		}
	}
	return g.Max, false
}

// fitsGrid says whether the curve has one point per step of a valid grid, which At and Equilibrium
// index by.
func (c Curve) fitsGrid() bool {
	return c.Grid.Validate() == nil && len(c.Demand) == c.Grid.Steps
}

// Bids turns the curve into step bids that sample back to the same curve on its grid: each drop of net
// demand between two grid prices becomes a buyer leaving (while demand is positive) or a seller joining
// (once it is negative). A cluster submits these to the auction above it.
func (c Curve) Bids(id string) []Bid {
	g := c.Grid
	var bids []Bid
	add := func(side Side, p, q float64) {
		if q > 0 {
			bids = append(bids, Bid{ID: fmt.Sprintf("%s/%d", id, len(bids)), Side: side, Price: p, Quantity: q})
		}
	}
	add(Sell, g.Min, -c.Demand[0])
	for k := 0; k+1 < g.Steps; k++ {
		drop := c.Demand[k] - c.Demand[k+1]
		buyers := math.Max(0, math.Min(drop, c.Demand[k]))
		add(Buy, g.Price(k), buyers)
		add(Sell, g.Price(k+1), drop-buyers)
	}
	add(Buy, g.Max, c.Demand[g.Steps-1])
	return bids
}
