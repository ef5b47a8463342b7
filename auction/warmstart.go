package auction

// The distributed method starts from the prices of a one-shot auction: in every period each agent bids
// as if that period stood alone (a load buys its demand at its value, a flexible load its maximum power
// before the deadline, PV sells its forecast at its cost, the grid sells imports at the import price and
// buys exports at the export price; a battery, whose value lies in other periods, abstains). The
// uniform-price clearing of those bids is usually close to the final price in most periods, which saves
// the ADMM the long climb from zero. Like the agents' steps, the bids are local and the clearing can run
// wherever the mesh gathers them.

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

// startingPrices clears every period's myopic bids and returns the prices per kWh. A period whose
// one-shot auction fails (supply short of the unresponsive demand, or demand short of unresponsive
// supply) starts at the cap the failure reports: the optimum serves what there is at that price, and
// starting below it would leave the price to climb thousands of times its usual range. Otherwise a
// clearing at the cap does not set the start (a battery, which abstains, may still cover the period),
// and the period starts at the highest bid below the cap.
func startingPrices(p Problem) []float64 {
	prices := make([]float64, p.Periods)
	for t := range prices {
		var bids []Bid
		highest := 0.0
		for _, a := range p.Agents {
			for _, b := range myopicBids(a, t) {
				if b.Price < DefaultPriceCap {
					highest = max(highest, b.Price)
				}
				bids = append(bids, b)
			}
		}
		r, err := Market{PriceCap: DefaultPriceCap}.Clear(bids)
		switch {
		case err != nil:
			prices[t] = highest
		case r.Type == Failure:
			prices[t] = r.Price
		case r.Price >= DefaultPriceCap || r.Price <= -DefaultPriceCap:
			prices[t] = highest
		default:
			prices[t] = r.Price
		}
	}
	return prices
}
