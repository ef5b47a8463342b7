package auction

import "slices"

// The distributed method starts from the prices of a one-shot auction: in every period each agent bids
// as if that period stood alone (a load buys its demand at its value, a flexible load its maximum power
// before the deadline, PV sells its forecast at its cost, the grid sells imports at the import price and
// buys exports at the export price). The uniform-price clearing of those bids is usually close to the
// final price in most periods, which saves the ADMM the long climb from zero.
//
// A battery's value lies in other periods, so it bids against the prices of the previous round of the
// auction (the first round it abstains): in period t it buys to charge at what a kWh stored fetches in
// the dearest later period (after losses and wear), and sells what it holds at the dearer of what that
// energy cost it and what it would fetch later. What it holds is its energy state, moved by what the
// auction gave it in the earlier periods of the same round. Rounds repeat until the prices stop moving
// (at most startRounds). On an island this is what finds a period whose price is set by the battery
// charging for a later shortage (the cap times the round trip), which ADMM alone reaches only after
// thousands of typical prices' climb. Like the agents' steps, the bids are local (a function of the
// broadcast prices and the agent's own allocations) and the clearing can run wherever the mesh gathers
// them.

// startRounds bounds the rounds of the one-shot auction in which batteries bid.
const startRounds = 4

// myopicBids returns agent a's bids for period t alone, in W and per kWh.
func myopicBids(a Agent, t int) []Bid {
	switch a.Kind {
	case KindLoad:
		return []Bid{{ID: a.ID, Side: Buy, Price: float64(a.ValuePerKWh), Quantity: float64(a.DemandW[t])}}
	case KindFlexibleLoad:
		if t < a.Deadline {
			return []Bid{{ID: a.ID, Side: Buy, Price: float64(a.ValuePerKWh), Quantity: float64(a.MaxW)}}
		}
	case KindPV:
		return []Bid{{ID: a.ID, Side: Sell, Price: float64(a.CostPerKWh), Quantity: float64(a.ForecastW[t])}}
	case KindGrid:
		return []Bid{
			{ID: a.ID, Side: Sell, Price: float64(a.ImportPrice[t]), Quantity: float64(a.MaxImportW)},
			{ID: a.ID, Side: Buy, Price: float64(a.ExportPrice[t]), Quantity: float64(a.MaxExportW)},
		}
	}
	return nil
}

// batteryStart is a battery's energy state during one round of the one-shot auction.
type batteryStart struct {
	energyWh float64 // stored now
	costKWh  float64 // what the stored energy cost per kWh it can deliver (0 for the initial energy)
}

// batteryBids returns a battery's bids for period t given the previous round's prices (per kWh).
func batteryBids(a Agent, t int, periodHours float64, st batteryStart, previous []float64) []Bid {
	etaC, etaD, wear := float64(a.ChargeEfficiency), float64(a.DischargeEfficiency), float64(a.CostPerKWh)
	later := 0.0
	for _, p := range previous[t+1:] {
		later = max(later, p)
	}
	var bids []Bid
	if v := etaC * etaD * (later - wear); v > 0 && etaC > 0 {
		room := (float64(a.CapacityWh) - st.energyWh) / (periodHours * etaC)
		if q := min(float64(a.MaxChargeW), room); q > 0 {
			bids = append(bids, Bid{ID: a.ID, Side: Buy, Price: min(v, DefaultPriceCap), Quantity: q})
		}
	}
	if q := min(float64(a.MaxDischargeW), st.energyWh*etaD/periodHours); q > 0 {
		price := max(st.costKWh+wear, later)
		bids = append(bids, Bid{ID: a.ID, Side: Sell, Price: min(price, DefaultPriceCap), Quantity: q})
	}
	return bids
}

// settle moves a battery's energy state by what it was allocated in one period (W, consumption
// positive), keeping the delivered cost of the stored energy as a weighted mean.
func (st *batteryStart) settle(a Agent, periodHours, allocatedW, price float64) {
	etaC, etaD := float64(a.ChargeEfficiency), float64(a.DischargeEfficiency)
	switch {
	case allocatedW > 0 && etaC*etaD > 0:
		added := allocatedW * periodHours * etaC
		cost := price / (etaC * etaD)
		st.costKWh = (st.costKWh*st.energyWh + cost*added) / (st.energyWh + added)
		st.energyWh += added
	case allocatedW < 0 && etaD > 0:
		st.energyWh = max(0, st.energyWh+allocatedW*periodHours/etaD)
	}
}

// startingPrices runs the rounds of the one-shot auction and returns the prices per kWh.
func startingPrices(p Problem) []float64 {
	prices := clearPeriods(p, nil)
	for range startRounds - 1 {
		next := clearPeriods(p, prices)
		if slices.Equal(next, prices) {
			break
		}
		prices = next
	}
	return prices
}

// clearPeriods clears every period's one-shot auction in order, batteries bidding against previous
// when it is given. A period whose auction fails (supply short of the unresponsive demand, or demand
// short of unresponsive supply) starts at the cap the failure reports: the optimum serves what there is
// at that price, and starting below it would leave the price to climb thousands of times its usual
// range. Otherwise a clearing at the cap does not set the start (storage may still cover the period),
// and the period starts at the highest bid below the cap.
func clearPeriods(p Problem, previous []float64) []float64 {
	prices := make([]float64, p.Periods)
	batteries := make(map[int]*batteryStart)
	for i, a := range p.Agents {
		if a.Kind == KindBattery {
			batteries[i] = &batteryStart{energyWh: float64(a.InitialWh)}
		}
	}
	for t := range prices {
		var bids []Bid
		owner := []int{}
		highest, unresponsive := 0.0, 0.0
		for i, a := range p.Agents {
			own := myopicBids(a, t)
			if st := batteries[i]; st != nil && previous != nil {
				own = batteryBids(a, t, p.PeriodHours, *st, previous)
			}
			for _, b := range own {
				if b.Price < DefaultPriceCap {
					highest = max(highest, b.Price)
				} else if b.Side == Buy {
					unresponsive += b.Quantity
				}
				bids = append(bids, b)
				owner = append(owner, i)
			}
		}
		r, err := Market{PriceCap: DefaultPriceCap}.Clear(bids)
		switch {
		case err != nil:
			prices[t] = highest
		case r.Type == Failure:
			prices[t] = r.Price
		case r.Type == Null && r.Quantity == 0 && unresponsive > 0:
			// Nothing sells at all: the clearing calls that null, but for the start it is the failure
			// of a period short of supply (an island's night with nothing stored).
			prices[t] = DefaultPriceCap
		case r.Price >= DefaultPriceCap || r.Price <= -DefaultPriceCap:
			prices[t] = highest
		default:
			prices[t] = r.Price
		}
		if err != nil {
			continue
		}
		for k, b := range bids {
			if st := batteries[owner[k]]; st != nil {
				w := r.Allocations[k]
				if b.Side == Sell {
					w = -w
				}
				st.settle(p.Agents[owner[k]], p.PeriodHours, w, prices[t])
			}
		}
	}
	return prices
}
