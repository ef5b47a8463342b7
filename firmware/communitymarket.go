package firmware

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/fractals-energy/fractals/auction"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/units"
)

// CommunityMarket clears one market interval of the community from all its units' agents. It is what
// the community simulator needs from the market: today the exchange solvers of package auction run
// it in one process (auction.Distributed is the ADMM exchange, every agent solving only its own
// problem against the broadcast prices); the market peer that negotiates over the mesh will take its
// place behind the same interface.
type CommunityMarket interface {
	Clear(p auction.Problem) (auction.Solution, error)
}

// ExchangeMarket clears with auction.Solve and the given method.
type ExchangeMarket struct {
	Method  auction.Method
	Options auction.ADMMOptions
}

// Clear solves the interval's problem.
func (m ExchangeMarket) Clear(p auction.Problem) (auction.Solution, error) {
	return auction.Solve(p, m.Method, m.Options)
}

// cleared is one interval's outcome for the community: each unit's schedule for the binding period
// and the trades that make it up.
type cleared struct {
	interval  int64
	price     units.PricePerKWh
	schedules []fractals.Schedule
	trades    []fractals.Trade
}

// unitOf is the unit an agent id belongs to ("<unit>/<agent>").
func unitOf(id string) string {
	if i := strings.IndexByte(id, '/'); i >= 0 {
		return id[:i]
	}
	return id
}

// commitFirstPeriod turns a solution into the binding period's schedules and bilateral trades. A
// unit's net exchange is the sum of its agents but the grid agent; the grid agent's part of it is a
// trade with the utility at the tariff; the rest is its position in the community, and the
// community's sellers are matched to its buyers pro rata at the period's clearing price, each trade
// carrying the feeder's network charge between the two units.
func commitFirstPeriod(names []string, sol auction.Solution, imp, exp units.PricePerKWh, from time.Time, h time.Duration,
	charge func(i, j int) units.PricePerKWh) cleared {
	interval := from.Unix()
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}
	net := make([]float64, len(names))
	grid := make([]float64, len(names)) // positive: the unit exports to the utility
	ev := make([]float64, len(names))
	ids := make([]string, 0, len(sol.Schedules))
	for id := range sol.Schedules {
		ids = append(ids, id)
	}
	sort.Strings(ids) // map order must not reach the sums: the same seed gives the same bytes
	for _, id := range ids {
		i, ok := index[unitOf(id)]
		if !ok || len(sol.Schedules[id]) == 0 {
			continue
		}
		w := sol.Schedules[id][0]
		switch {
		case strings.HasSuffix(id, "/grid"):
			grid[i] = w
		default:
			net[i] += w
			if strings.HasSuffix(id, "/ev") {
				ev[i] = w
			}
		}
	}
	c := cleared{interval: interval, schedules: make([]fractals.Schedule, len(names))}
	if len(sol.Prices) > 0 {
		c.price = units.PricePerKWh(sol.Prices[0])
	}
	hours := h.Hours()
	var buyers, sellers []int
	position := make([]float64, len(names))
	for i, name := range names {
		c.schedules[i] = fractals.Schedule{Start: from, End: from.Add(h), NetExchange: units.Watts(net[i]), EV: units.Watts(ev[i])}
		if g := grid[i]; g < -0.5 {
			c.trades = append(c.trades, fractals.Trade{Interval: interval, ID: "grid>" + name, Seller: fractals.GridAccount, Buyer: name,
				Energy: units.WattHours(-g * hours), Price: imp})
		} else if g > 0.5 {
			c.trades = append(c.trades, fractals.Trade{Interval: interval, ID: name + ">grid", Seller: name, Buyer: fractals.GridAccount,
				Energy: units.WattHours(g * hours), Price: exp})
		}
		position[i] = net[i] + grid[i]
		switch {
		case position[i] > 0.5:
			buyers = append(buyers, i)
		case position[i] < -0.5:
			sellers = append(sellers, i)
		}
	}
	var demand, supply float64
	for _, b := range buyers {
		demand += position[b]
	}
	for _, s := range sellers {
		supply -= position[s]
	}
	traded := math.Min(demand, supply) // what the solver left unbalanced is nobody's trade
	for _, s := range sellers {
		for _, b := range buyers {
			w := traded * (-position[s] / supply) * (position[b] / demand)
			if w < 1e-3 {
				continue
			}
			c.trades = append(c.trades, fractals.Trade{Interval: interval, ID: names[s] + ">" + names[b], Seller: names[s], Buyer: names[b],
				Energy: units.WattHours(w * hours), Price: c.price, NetworkCharge: charge(s, b)})
		}
	}
	return c
}
