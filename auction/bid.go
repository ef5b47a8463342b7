package auction

import (
	"fmt"
	"math"
)

// Side says whether a bid buys or sells.
type Side int8

const (
	// Buy is a bid to purchase energy (GridLAB-D calls it an ask).
	Buy Side = 1
	// Sell is an offer to supply energy.
	Sell Side = 2
)

// String returns "buy" or "sell".
func (s Side) String() string {
	switch s {
	case Buy:
		return "buy"
	case Sell:
		return "sell"
	}
	return fmt.Sprintf("side(%d)", int8(s))
}

// ParseSide reads "buy" or "sell".
func ParseSide(s string) (Side, error) {
	switch s {
	case "buy":
		return Buy, nil
	case "sell":
		return Sell, nil
	}
	return 0, fmt.Errorf("side %q, want buy or sell", s)
}

// Bid is one step bid of one interval: a price per unit and a quantity. A seller's negative quantity is a
// purchase and a buyer's negative quantity a sale, as in GridLAB-D.
type Bid struct {
	ID       string
	Side     Side
	Price    float64
	Quantity float64
}

// DefaultPriceCap is GridLAB-D's default price cap: a buy bid at the cap is unresponsive demand.
const DefaultPriceCap = 9999

// BidOffset nudges a price that falls on an untraded bid just past it, so the price does not trigger it.
const BidOffset = 0.0001

// Validate says what is wrong with bid i, if anything.
func (b Bid) Validate(i int) error {
	if b.Side != Buy && b.Side != Sell {
		return fmt.Errorf("bid %d (%q): side %d, want buy or sell", i, b.ID, b.Side)
	}
	if math.IsNaN(b.Price) || math.IsInf(b.Price, 0) {
		return fmt.Errorf("bid %d (%q): price %v, want a finite number", i, b.ID, b.Price)
	}
	if math.IsNaN(b.Quantity) || math.IsInf(b.Quantity, 0) {
		return fmt.Errorf("bid %d (%q): quantity %v, want a finite number", i, b.ID, b.Quantity)
	}
	return nil
}

// effective returns the side the bid really trades on and its non-negative quantity, with the price
// limited to [-cap, cap] (GridLAB-D clamps bids to the cap on submission).
func (b Bid) effective(cap float64) (Side, float64, float64) {
	side, q := b.Side, b.Quantity
	if q < 0 {
		q = -q
		if side == Buy {
			side = Sell
		} else {
			side = Buy
		}
	}
	p := b.Price
	if p > cap {
		p = cap
	} else if p < -cap {
		p = -cap
	}
	return side, q, p
}
