package auction

// The welfare linear program in block-angular form. Every agent owns a block of variables with their own
// rows (a battery's energy balance, a flexible load's budget); the only rows the agents share are the
// balance rows, one per period. Units inside: kW for power, kWh for energy, money for the objective, so
// that numbers from a phone charger to a feeder stay within a few orders of magnitude of each other.

// entry is one non-zero of a variable's column in its block's own rows.
type entry struct {
	row  int
	coef float64
}

// block is one agent's part of the program: minimise Σ cost·x subject to its rows = rhs, 0 ≤ x ≤ upper,
// and Σ_j sign_j x_j over the variables of period t joins the balance row of t.
type block struct {
	cost   []float64
	upper  []float64
	period []int     // period of the variable's balance row, or -1
	sign   []float64 // +1 consumes, -1 produces, 0 stays inside the agent
	column [][]entry // the variable's non-zeros in the block's own rows
	rhs    []float64

	// Optional, for the bilateral market (nil for every agent): quad is a diagonal quadratic cost
	// ½·quad·x² (a trade's ADMM penalty); period2/sign2 a second balance row the variable joins (a
	// trade leaves one unit's balance and enters its neighbour's), -1 when none.
	quad    []float64
	period2 []int
	sign2   []float64
}

// quadAt is variable j's diagonal quadratic cost coefficient.
func (b *block) quadAt(j int) float64 {
	if b.quad == nil {
		return 0
	}
	return b.quad[j]
}

// second returns variable j's second balance row and its sign, or -1.
func (b *block) second(j int) (int, float64) {
	if b.period2 == nil {
		return -1, 0
	}
	return b.period2[j], b.sign2[j]
}

func (b *block) add(cost, upper float64, period int, sign float64, col ...entry) int {
	b.cost = append(b.cost, cost)
	b.upper = append(b.upper, upper)
	b.period = append(b.period, period)
	b.sign = append(b.sign, sign)
	b.column = append(b.column, col)
	return len(b.cost) - 1
}

// schedule returns the block's net power per period in kW (consumption positive).
func (b *block) schedule(x []float64, periods int) []float64 {
	s := make([]float64, periods)
	for j, t := range b.period {
		if t >= 0 {
			s[t] += b.sign[j] * x[j]
		}
	}
	return s
}

// compile turns an agent into its block. Variables whose upper bound is zero are left out: they can only
// be zero, and an interior-point method needs room on both sides of every variable.
func compile(a Agent, periods int, h float64) block {
	var b block
	kw := func(w float64) float64 { return w / 1000 }
	switch a.Kind {
	case KindLoad:
		for t := range periods {
			if u := kw(float64(a.DemandW[t])); u > 0 {
				b.add(-float64(a.ValuePerKWh)*h, u, t, 1)
			}
		}
	case KindPV:
		for t := range periods {
			if u := kw(float64(a.ForecastW[t])); u > 0 {
				b.add(float64(a.CostPerKWh)*h, u, t, -1)
			}
		}
	case KindGrid:
		for t := range periods {
			if u := kw(float64(a.MaxImportW)); u > 0 {
				b.add(float64(a.ImportPrice[t])*h, u, t, -1)
			}
			if u := kw(float64(a.MaxExportW)); u > 0 {
				b.add(-float64(a.ExportPrice[t])*h, u, t, 1)
			}
		}
	case KindFlexibleLoad:
		energy, maxKW := float64(a.EnergyWh)/1000, kw(float64(a.MaxW))
		if energy <= 0 || maxKW <= 0 || a.Deadline == 0 {
			return b
		}
		b.rhs = []float64{energy}
		for t := range a.Deadline {
			b.add(-float64(a.ValuePerKWh)*h, maxKW, t, 1, entry{0, h})
		}
		b.add(0, energy, -1, 0, entry{0, 1}) // unused energy
	case KindBattery:
		compileBattery(&b, a, periods, h)
	}
	return b
}

// compileBattery writes e[t+1] − e[t] − h·ηc·c[t] + h·d[t]/ηd = 0 for every period, with e[0] the initial
// energy and e[1..T] variables within 0..capacity.
func compileBattery(b *block, a Agent, periods int, h float64) {
	capacity := float64(a.CapacityWh) / 1000
	charge, discharge := float64(a.MaxChargeW)/1000, float64(a.MaxDischargeW)/1000
	if capacity <= 0 || (charge <= 0 && discharge <= 0) {
		return
	}
	etaC, etaD := float64(a.ChargeEfficiency), float64(a.DischargeEfficiency)
	b.rhs = make([]float64, periods)
	b.rhs[0] = float64(a.InitialWh) / 1000
	for t := range periods {
		if charge > 0 {
			b.add(0, charge, t, 1, entry{t, -h * etaC})
		}
		if discharge > 0 {
			b.add(float64(a.CostPerKWh)*h, discharge, t, -1, entry{t, h / etaD})
		}
		col := []entry{{t, 1}}
		if t+1 < periods {
			col = append(col, entry{t + 1, -1})
		}
		b.add(0, capacity, -1, 0, col...)
	}
}
