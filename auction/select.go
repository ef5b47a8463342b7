package auction

import (
	"math"
	"slices"
)

// The fast path of Clear. Sorting a million prices takes about 90 ms, but the walk only needs the exact
// order near the point where the curves cross. So: one histogram pass puts every price into one of up
// to 65,536 equal-width buckets (a monotone map: a higher bucket always holds higher prices); a walk over
// the bucket totals trades every unit whose buyer bucket is strictly above its seller bucket, which the
// exact walk would trade too; only the few buckets around where that lumped walk stopped are sorted and
// walked exactly, with the fully traded buckets before them standing in as one bid at ±∞ per side.
// Ties cost nothing: the candidates are sorted by price alone (pattern-defeating quicksort is linear
// on runs of equal keys) and the bids at one price walk as one, since the allocation shares the margin
// pro rata and needs no order among them. All prices equal is the extreme case: one bucket.

const maxBuckets = 1 << 16

const (
	buyCode = 1 << 16 // marks a buyer's bucket code
	noCode  = 1 << 31 // a bid with no quantity: never a candidate
)

type buckets struct {
	lo, hi, scale float64
	n             int
}

// newBuckets spreads [lo, hi] over the interior buckets 1..n-2; bucket 0 holds every price below lo and
// bucket n-1 every price above hi, so that far outliers (bids at ±cap) do not stretch the buckets that
// matter. A range of no width (or one too narrow to divide) is one bucket.
func newBuckets(lo, hi float64, n int) buckets {
	scale := float64(n-2) / (hi - lo)
	if !(hi > lo) || math.IsInf(scale, 0) || math.IsNaN(scale) {
		return buckets{lo: lo, hi: hi, n: 1}
	}
	return buckets{lo: lo, hi: hi, scale: scale, n: n}
}

// of is monotone: a higher price never lands in a lower bucket.
func (b buckets) of(p float64) int {
	if b.n == 1 {
		return 0
	}
	x := (p - b.lo) * b.scale
	if x < 0 {
		return 0
	}
	if p > b.hi {
		return b.n - 1
	}
	return min(1+int(x), b.n-2)
}

// fastPath is what the bucketed clearing knows after its passes: bucket totals and every bid of the
// buckets around the crossing, exactly.
type fastPath struct {
	bk              buckets
	buyQ, sellQ     []float64
	buyN, sellN     []int32 // bids per bucket
	bLow, bHigh     int
	sLow, sHigh     int
	buyers, sellers []priced // candidates, merit order, stand-ins first
}

// Re-bucketing: when the buckets around the crossing hold more than refineFloor + 1 % of the bids (the
// prices crowd into a few buckets because the range is stretched, say by one bid at the cap next to a
// million within a cent), the histogram is built again over the exact price span of the crowded
// candidate buckets, at most maxRefinements times.
const (
	refineFloor    = 4096
	maxRefinements = 3
)

// clearBucketed returns nil as its fast path when it cannot decide (rounding left the exact walk inside a
// stand-in bid); Clear then sorts everything.
func clearBucketed(bids []Bid, cap float64, s *summary) (float64, ClearingType, float64, *fastPath) {
	n := min(maxBuckets, max(16, (s.nBuy+s.nSell)/8))
	// Each bid's bucket and side, so that finding the candidates reads 4 bytes per bid, not 40.
	codes := make([]uint32, len(bids))
	f := &fastPath{buyQ: make([]float64, n), sellQ: make([]float64, n), buyN: make([]int32, n), sellN: make([]int32, n)}
	lo, hi := s.minPrice, s.maxPrice
	limit := refineFloor + len(bids)/100
	for round := 0; ; round++ {
		f.histogram(bids, cap, newBuckets(lo, hi, n), codes)
		if round == maxRefinements || f.candidates() <= limit {
			break
		}
		// A crowded bucket (more than an eighth of the limit: the candidate ranges hold at most a few
		// non-empty buckets per side) is spread over the next round's buckets, unless its bids all
		// share one price.
		cLo, cHi := f.crowdedSpan(bids, cap, codes, int32(limit/8))
		if !(cLo < cHi) || (cLo <= lo && cHi >= hi) {
			break
		}
		lo, hi = cLo, cHi
	}
	buyPrefix, sellPrefix := f.collect(bids, cap, codes)
	f.buyers = groupByPrice(f.buyers, byDescendingPrice)
	f.sellers = groupByPrice(f.sellers, byAscendingPrice)
	e := walk(f.buyers, f.sellers)
	if !e.tradedSome || e.quantity == 0 {
		if buyPrefix > 0 || sellPrefix > 0 {
			return 0, "", 0, nil
		}
		return 0, Null, 0, f
	}
	if (buyPrefix > 0 && e.nextBuy == 0) || (sellPrefix > 0 && e.nextSell == 0) {
		return 0, "", 0, nil
	}
	typ, price := outcome(e, f.buyers, f.sellers, cap)
	if math.IsInf(price, 0) || math.IsInf(e.lastBuy, 0) || math.IsInf(e.lastSell, 0) {
		return 0, "", 0, nil
	}
	return e.quantity, typ, price, f
}

// histogram puts every bid into its bucket, totals the buckets per side and finds, by the lumped walk,
// the bucket ranges that need the exact walk.
func (f *fastPath) histogram(bids []Bid, cap float64, bk buckets, codes []uint32) {
	f.bk = bk
	clear(f.buyQ)
	clear(f.sellQ)
	clear(f.buyN)
	clear(f.sellN)
	for i := range bids {
		side, q, p := bids[i].effective(cap)
		k := bk.of(p)
		switch {
		case q == 0:
			codes[i] = noCode
		case side == Buy:
			f.buyQ[k] += q
			f.buyN[k]++
			codes[i] = uint32(k) | buyCode
		default:
			f.sellQ[k] += q
			f.sellN[k]++
			codes[i] = uint32(k)
		}
	}
	f.bLow, f.bHigh, f.sLow, f.sHigh = lumpedWalk(f.buyQ[:bk.n], f.sellQ[:bk.n])
}

// collect gathers the candidates of the exact walk: every bid of the buckets around the crossing, and
// one stand-in per side for the fully traded buckets beyond them. It returns the stand-ins' quantities.
func (f *fastPath) collect(bids []Bid, cap float64, codes []uint32) (buyPrefix, sellPrefix float64) {
	n := f.bk.n
	for k := f.bHigh + 1; k < n; k++ {
		buyPrefix += f.buyQ[k]
	}
	for k := 0; k < f.sLow; k++ {
		sellPrefix += f.sellQ[k]
	}
	f.buyers, f.sellers = f.buyers[:0], f.sellers[:0]
	if buyPrefix > 0 {
		f.buyers = append(f.buyers, priced{math.Inf(1), buyPrefix, -1})
	}
	if sellPrefix > 0 {
		f.sellers = append(f.sellers, priced{math.Inf(-1), sellPrefix, -1})
	}
	bLo, bHi := uint32(f.bLow)|buyCode, uint32(f.bHigh)|buyCode
	sLo, sHi := uint32(f.sLow), uint32(f.sHigh)
	for i, c := range codes {
		if (c >= bLo && c <= bHi && f.bLow >= 0) || (c >= sLo && c <= sHi && f.sLow < n) {
			_, q, p := bids[i].effective(cap)
			if c&buyCode != 0 {
				f.buyers = append(f.buyers, priced{p, q, i})
			} else {
				f.sellers = append(f.sellers, priced{p, q, i})
			}
		}
	}
	return buyPrefix, sellPrefix
}

// candidates counts the bids of the buckets the exact walk needs.
func (f *fastPath) candidates() int {
	var c int
	for k := max(f.bLow, 0); f.bLow >= 0 && k <= f.bHigh; k++ {
		c += int(f.buyN[k])
	}
	for k := f.sLow; f.sLow < f.bk.n && k <= f.sHigh; k++ {
		c += int(f.sellN[k])
	}
	return c
}

// crowdedSpan is the price span of the bids in the candidate buckets that hold more than crowd bids of
// one side. It reports no span (lo ≥ hi) when there are none or when they all sit at the two ends of
// the span (one or two prices, as in a market of ties): no new buckets would split them.
func (f *fastPath) crowdedSpan(bids []Bid, cap float64, codes []uint32, crowd int32) (lo, hi float64) {
	crowded := func(c uint32) bool {
		if c == noCode {
			return false
		}
		k := int(c &^ buyCode)
		if c&buyCode != 0 {
			return f.bLow >= 0 && k >= f.bLow && k <= f.bHigh && f.buyN[k] > crowd
		}
		return f.sLow < f.bk.n && k >= f.sLow && k <= f.sHigh && f.sellN[k] > crowd
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	var total, atLo, atHi int
	for i, c := range codes {
		if !crowded(c) {
			continue
		}
		_, _, p := bids[i].effective(cap)
		total++
		switch {
		case p < lo:
			lo, atLo = p, 1
		case p == lo:
			atLo++
		}
		switch {
		case p > hi:
			hi, atHi = p, 1
		case p == hi:
			atHi++
		}
	}
	if atLo+atHi >= total {
		return hi, hi
	}
	return lo, hi
}

func byDescendingPrice(a, b priced) int { return cmpFloat(b.price, a.price) }
func byAscendingPrice(a, b priced) int  { return cmpFloat(a.price, b.price) }

// groupByPrice sorts the candidates into merit order and merges the bids of one price into one, which
// keeps the smallest input position of its members.
func groupByPrice(c []priced, order func(a, b priced) int) []priced {
	slices.SortFunc(c, order)
	out := c[:0]
	for _, b := range c {
		if k := len(out) - 1; k >= 0 && out[k].price == b.price {
			out[k].qty += b.qty
			out[k].index = min(out[k].index, b.index)
			continue
		}
		out = append(out, b)
	}
	return out
}

// totalsAt gives the totals finish needs when the price falls inside the exactly known buckets of both
// sides: buckets above (below) them hold only higher (lower) prices, since the bucket map is monotone.
func (f *fastPath) totalsAt(price float64) (buyAbove, buyAt, sellBelow, sellAt float64, ok bool) {
	if f == nil {
		return 0, 0, 0, 0, false
	}
	k := f.bk.of(price)
	if k < f.bLow || k > f.bHigh || k < f.sLow || k > f.sHigh {
		return 0, 0, 0, 0, false
	}
	for j := f.bHigh + 1; j < f.bk.n; j++ {
		buyAbove += f.buyQ[j]
	}
	for j := 0; j < f.sLow; j++ {
		sellBelow += f.sellQ[j]
	}
	for _, b := range f.buyers {
		switch {
		case b.index < 0: // the stand-in for the buckets above, already counted
		case b.price > price:
			buyAbove += b.qty
		case b.price == price:
			buyAt += b.qty
		}
	}
	for _, b := range f.sellers {
		switch {
		case b.index < 0:
		case b.price < price:
			sellBelow += b.qty
		case b.price == price:
			sellAt += b.qty
		}
	}
	return buyAbove, buyAt, sellBelow, sellAt, true
}

// lumpedWalk walks bucket totals while the buyer bucket is strictly above the seller bucket and returns
// the bucket ranges that need the exact walk: from the last bucket that traded to the first bucket after
// the one where the lumped walk stopped, on each side.
func lumpedWalk(buyQ, sellQ []float64) (bLow, bHigh, sLow, sHigh int) {
	n := len(buyQ)
	nextBuyBucket := func(k int) int { // next non-empty at or below k
		for k >= 0 && buyQ[k] == 0 {
			k--
		}
		return k
	}
	nextSellBucket := func(k int) int {
		for k < n && sellQ[k] == 0 {
			k++
		}
		return k
	}
	kb, ks := nextBuyBucket(n-1), nextSellBucket(0)
	lastB, lastS := -1, n
	var remB, remS float64
	if kb >= 0 {
		remB = buyQ[kb]
	}
	if ks < n {
		remS = sellQ[ks]
	}
	for kb >= 0 && ks < n && kb > ks {
		lastB, lastS = kb, ks
		switch {
		case remB < remS:
			remS -= remB
			kb = nextBuyBucket(kb - 1)
			if kb >= 0 {
				remB = buyQ[kb]
			}
		case remB > remS:
			remB -= remS
			ks = nextSellBucket(ks + 1)
			if ks < n {
				remS = sellQ[ks]
			}
		default:
			kb = nextBuyBucket(kb - 1)
			ks = nextSellBucket(ks + 1)
			if kb >= 0 {
				remB = buyQ[kb]
			}
			if ks < n {
				remS = sellQ[ks]
			}
		}
	}
	bHigh = lastB
	if bHigh < 0 {
		bHigh = kb
	}
	bLow = kb
	if kb >= 0 {
		if after := nextBuyBucket(kb - 1); after >= 0 {
			bLow = after
		}
	} else {
		bLow = bHigh
	}
	sLow = lastS
	if sLow >= n {
		sLow = ks
	}
	sHigh = ks
	if ks < n {
		if after := nextSellBucket(ks + 1); after < n {
			sHigh = after
		}
	} else {
		sHigh = sLow
	}
	return bLow, bHigh, sLow, sHigh
}
