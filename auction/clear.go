package auction

import (
	"fmt"
	"math"
	"slices"
)

// ClearingType is the outcome of one uniform-price clearing, with GridLAB-D's names.
type ClearingType string

// The outcomes of a clearing.
const (
	Exact          ClearingType = "exact"           // supply meets demand at a price both sides bid
	MarginalSeller ClearingType = "marginal_seller" // the sellers at the clearing price are partly dispatched
	MarginalBuyer  ClearingType = "marginal_buyer"  // the buyers at the clearing price are partly served
	MarginalPrice  ClearingType = "marginal_price"  // quantities meet inside a price gap
	Null           ClearingType = "null"            // nothing trades
	Failure        ClearingType = "failure"         // less clears than the unresponsive demand (or supply)
)

// Market holds the parameters of one clearing.
type Market struct {
	// PriceCap bounds every price; a buy bid at the cap is unresponsive demand, a sell bid at -cap
	// unresponsive supply. Zero (or anything not positive) means DefaultPriceCap; a cap beyond maxPrice
	// (1e6 per unit) is taken as maxPrice, so sums of prices and quantities stay finite.
	PriceCap float64
}

// Result is the outcome of one interval.
type Result struct {
	Price    float64
	Quantity float64
	Type     ClearingType
	// Allocations[i] is what bid i trades, with the sign of its quantity.
	Allocations []float64
	// Welfare is Σ buy price × allocated − Σ sell price × allocated, with the bids' own prices limited to
	// the cap (as the clearing sees them).
	Welfare float64
}

func (m Market) cap() float64 {
	if m.PriceCap > 0 {
		return math.Min(m.PriceCap, maxPrice)
	}
	return DefaultPriceCap
}

// priced is a bid reduced to what the walk needs: its clamped price, its positive quantity and its
// position in the input, which breaks ties so the outcome never depends on the sort's whims.
type priced struct {
	price float64
	qty   float64
	index int
}

// byBuyOrder sorts buyers by descending price, sellers by ascending price, ties by input position.
func byBuyOrder(a, b priced) int {
	if a.price != b.price {
		if a.price > b.price {
			return -1
		}
		return 1
	}
	return a.index - b.index
}

func bySellOrder(a, b priced) int {
	if a.price != b.price {
		if a.price < b.price {
			return -1
		}
		return 1
	}
	return a.index - b.index
}

// walkEnd is where the merit-order walk stopped.
type walkEnd struct {
	quantity   float64
	nextBuy    int // index in the sorted buyers of the first bid not fully served
	nextSell   int
	lastBuy    float64 // price of the last buyer that traded
	lastSell   float64
	lastStep   int // which side the last step exhausted
	tradedSome bool
}

const (
	stepSellerExhausted = iota + 1 // the buyer at nextBuy is partly served
	stepBuyerExhausted             // the seller at nextSell is partly dispatched
	stepBoth
)

// walk matches the highest buyers with the lowest sellers while the buyer's price is at least the
// seller's, in cumulative quantities as GridLAB-D does.
func walk(buyers, sellers []priced) walkEnd {
	var e walkEnd
	var demand, supply float64
	i, j := 0, 0
	for i < len(buyers) && j < len(sellers) && buyers[i].price >= sellers[j].price {
		buyQ := demand + buyers[i].qty
		sellQ := supply + sellers[j].qty
		e.lastBuy, e.lastSell, e.tradedSome = buyers[i].price, sellers[j].price, true
		switch {
		case buyQ > sellQ:
			supply = sellQ
			e.quantity = sellQ
			j++
			e.lastStep = stepSellerExhausted
		case buyQ < sellQ:
			demand = buyQ
			e.quantity = buyQ
			i++
			e.lastStep = stepBuyerExhausted
		default:
			demand, supply = buyQ, sellQ
			e.quantity = buyQ
			i++
			j++
			e.lastStep = stepBoth
		}
	}
	e.nextBuy, e.nextSell = i, j
	return e
}

// outcome turns the end of the walk into a clearing type and price (before the null and failure rules).
func outcome(e walkEnd, buyers, sellers []priced, cap float64) (ClearingType, float64) {
	switch e.lastStep {
	case stepSellerExhausted:
		return MarginalBuyer, buyers[e.nextBuy].price
	case stepBuyerExhausted:
		return MarginalSeller, sellers[e.nextSell].price
	}
	a, b := e.lastBuy, e.lastSell
	hasNextBuy, hasNextSell := e.nextBuy < len(buyers), e.nextSell < len(sellers)
	var nextBuy, nextSell float64
	if hasNextBuy {
		nextBuy = buyers[e.nextBuy].price
	}
	if hasNextSell {
		nextSell = sellers[e.nextSell].price
	}
	switch {
	case hasNextBuy && nextBuy == a:
		return MarginalBuyer, a // untraded buyers at the same price share what was bought
	case hasNextSell && nextSell == b:
		return MarginalSeller, b
	case a == b:
		return Exact, a
	}
	return MarginalPrice, gapPrice(a, b, nextBuy, hasNextBuy, nextSell, hasNextSell, cap)
}

// gapPrice picks a price in the gap [b, a] between the last traded seller and buyer that does not trigger
// the next untraded bids: the midpoint, nudged by BidOffset past an untraded bid it would reach. A side
// traded at the cap (unresponsive bids) does not pull the price towards the cap.
func gapPrice(a, b, nextBuy float64, hasNextBuy bool, nextSell float64, hasNextSell bool, cap float64) float64 {
	lo, hi := b, a
	if hasNextBuy && nextBuy > lo {
		lo = nextBuy
	}
	if hasNextSell && nextSell < hi {
		hi = nextSell
	}
	var p float64
	switch {
	case a == cap && b != -cap:
		p = b
		if hasNextBuy && nextBuy > b {
			p = nextBuy + BidOffset
		}
	case a != cap && b == -cap:
		p = a
		if hasNextSell && nextSell < a {
			p = nextSell - BidOffset
		}
	case a == cap && b == -cap:
		switch {
		case hasNextBuy && hasNextSell:
			p = midpoint(nextBuy, nextSell)
		case hasNextBuy:
			p = nextBuy + BidOffset
		case hasNextSell:
			p = nextSell - BidOffset
		}
	default:
		p = midpoint(a, b)
		if hasNextBuy && p <= nextBuy {
			p = nextBuy + BidOffset
		} else if hasNextSell && p >= nextSell {
			p = nextSell - BidOffset
		}
	}
	// The offset may overshoot a gap narrower than itself: then take the middle of what is left.
	tooLow := p < lo || (hasNextBuy && p <= nextBuy)
	tooHigh := p > hi || (hasNextSell && p >= nextSell)
	if tooLow || tooHigh {
		p = midpoint(lo, hi)
	}
	return p
}

// midpoint is (a+b)/2 computed so that it cannot overflow for finite a and b.
func midpoint(a, b float64) float64 { return a/2 + b/2 }

// Clear clears one interval. It never panics on finite input; a non-finite price or quantity or an unknown
// side is an error naming the bid.
func (m Market) Clear(bids []Bid) (Result, error) {
	cap := m.cap()
	var s summary
	if err := s.scan(bids, cap); err != nil {
		return Result{}, err
	}
	if s.nBuy == 0 || s.nSell == 0 {
		return m.finish(bids, &s, 0, "", 0, nil), nil
	}
	q, typ, price, fast := clearBucketed(bids, cap, &s)
	if fast == nil {
		q, typ, price = clearSorted(bids, cap)
	}
	return m.finish(bids, &s, q, typ, price, fast), nil
}

// ClearReference clears by sorting every bid: the plain GridLAB-D walk, kept as the oracle for Clear.
func (m Market) ClearReference(bids []Bid) (Result, error) {
	cap := m.cap()
	var s summary
	if err := s.scan(bids, cap); err != nil {
		return Result{}, err
	}
	var q, price float64
	var typ ClearingType
	if s.nBuy > 0 && s.nSell > 0 {
		q, typ, price = clearSorted(bids, cap)
	}
	return m.finish(bids, &s, q, typ, price, nil), nil
}

// summary is what one pass over the bids learns.
type summary struct {
	nBuy, nSell         int
	maxBuy, minSell     float64
	minPrice, maxPrice  float64
	unresponsiveDemand  float64
	unresponsiveSupply  float64
	totalBuy, totalSell float64
}

// scan validates the bids and summarises them in one pass.
func (s *summary) scan(bids []Bid, cap float64) error {
	s.maxBuy, s.minSell = math.Inf(-1), math.Inf(1)
	s.minPrice, s.maxPrice = math.Inf(1), math.Inf(-1)
	for i := range bids {
		b := &bids[i]
		if (b.Side != Buy && b.Side != Sell) || !finite(b.Price) || !finite(b.Quantity) {
			return b.Validate(i)
		}
		side, q, p := b.effective(cap)
		if q == 0 {
			continue
		}
		s.minPrice = min(s.minPrice, p)
		s.maxPrice = max(s.maxPrice, p)
		if side == Buy {
			s.nBuy++
			s.totalBuy += q
			s.maxBuy = max(s.maxBuy, p)
			if p == cap {
				s.unresponsiveDemand += q
			}
		} else {
			s.nSell++
			s.totalSell += q
			s.minSell = min(s.minSell, p)
			if p == -cap {
				s.unresponsiveSupply += q
			}
		}
	}
	return nil
}

// finite is true for every float but NaN and ±Inf (x−x is NaN exactly for those).
func finite(x float64) bool { return x-x == 0 }

// split returns the buyers and sellers with a non-zero quantity, in merit order.
func split(bids []Bid, cap float64) (buyers, sellers []priced) {
	for i := range bids {
		side, q, p := bids[i].effective(cap)
		if q == 0 {
			continue
		}
		if side == Buy {
			buyers = append(buyers, priced{p, q, i})
		} else {
			sellers = append(sellers, priced{p, q, i})
		}
	}
	slices.SortFunc(buyers, byBuyOrder)
	slices.SortFunc(sellers, bySellOrder)
	return buyers, sellers
}

func clearSorted(bids []Bid, cap float64) (float64, ClearingType, float64) {
	buyers, sellers := split(bids, cap)
	e := walk(buyers, sellers)
	if !e.tradedSome || e.quantity == 0 {
		return 0, Null, 0
	}
	typ, price := outcome(e, buyers, sellers, cap)
	return e.quantity, typ, price
}

// finish applies the null and failure rules, then allocates: every buyer above the price and every
// seller below it in full, the rest of the cleared quantity pro rata among the bids at the price. The
// fast path, when given, knows the totals around the price without another pass over the bids.
func (m Market) finish(bids []Bid, s *summary, q float64, typ ClearingType, price float64, fast *fastPath) Result {
	cap := m.cap()
	switch {
	case q <= 0:
		q, typ, price = 0, Null, nullPrice(s, cap)
	case q < s.unresponsiveDemand*(1-sumRounding):
		typ, price = Failure, cap
	case q < s.unresponsiveSupply*(1-sumRounding):
		typ, price = Failure, -cap
	}
	price = math.Max(-cap, math.Min(cap, price))
	r := Result{Price: price, Quantity: q, Type: typ, Allocations: make([]float64, len(bids))}
	if q == 0 {
		return r
	}
	buyAbove, buyAt, sellBelow, sellAt, ok := fast.totalsAt(price)
	if !ok {
		buyAbove, buyAt, sellBelow, sellAt = totalsAt(bids, cap, price)
	}
	buyShare := share(q-buyAbove, buyAt)
	sellShare := share(q-sellBelow, sellAt)
	for i := range bids {
		b := &bids[i]
		side, qty, p := b.effective(cap)
		var got float64
		switch {
		case side == Buy && p > price, side == Sell && p < price:
			got = qty
		case side == Buy && p == price:
			got = qty * buyShare
		case side == Sell && p == price:
			got = qty * sellShare
		}
		if b.Quantity < 0 {
			got = -got
		}
		r.Allocations[i] = got
		if b.Side == Buy {
			r.Welfare += p * got
		} else {
			r.Welfare -= p * got
		}
	}
	return r
}

// sumRounding is how far apart two sums of the same quantities taken in different orders may be: the
// walk's cleared quantity and the scan's unresponsive demand differ by rounding alone when all of it
// cleared, and calling that a failure dispatched every seller for a sliver of demand.
const sumRounding = 1e-9

// totalsAt sums the quantities of the buyers above and at the price and of the sellers below and at it.
func totalsAt(bids []Bid, cap, price float64) (buyAbove, buyAt, sellBelow, sellAt float64) {
	for i := range bids {
		side, qty, p := bids[i].effective(cap)
		switch {
		case side == Buy && p > price:
			buyAbove += qty
		case side == Buy && p == price:
			buyAt += qty
		case side == Sell && p < price:
			sellBelow += qty
		case side == Sell && p == price:
			sellAt += qty
		}
	}
	return buyAbove, buyAt, sellBelow, sellAt
}

// share is the fraction of the bids at the price that trades, limited to [0, 1] against rounding.
func share(rest, atPrice float64) float64 {
	if atPrice <= 0 || rest <= 0 {
		return 0
	}
	return math.Min(1, rest/atPrice)
}

// nullPrice is the price when nothing trades: between the highest buyer and the lowest seller.
func nullPrice(s *summary, cap float64) float64 {
	switch {
	case s.nBuy == 0 && s.nSell == 0:
		return 0
	case s.nBuy == 0:
		return s.minSell - BidOffset
	case s.nSell == 0:
		return s.maxBuy + BidOffset
	case s.minSell == cap:
		return s.maxBuy + BidOffset
	case s.maxBuy == -cap:
		return s.minSell - BidOffset
	}
	return midpoint(s.minSell, s.maxBuy)
}

// String describes a result in one line.
func (r Result) String() string {
	return fmt.Sprintf("%s: %.6g at %.6g (welfare %.6g)", r.Type, r.Quantity, r.Price, r.Welfare)
}
