package firmware

import (
	"fmt"
	"os"

	"github.com/fractals-energy/fractals/grid"
	"github.com/fractals-energy/fractals/internal/units"
)

// Feeder is the community's radial feeder: a MATPOWER case with the units at chosen buses. Its own
// loads stay as the case gives them (the feeder's other customers); each unit's net import is added
// to its bus.
type Feeder struct {
	Case  *grid.Case
	Buses []int // the bus of each unit
	// Distance is the series resistance between the units' buses, p.u., for the network charge.
	Distance [][]float64
	meanDist float64
}

// FeederResult is one period's power flow.
type FeederResult struct {
	LossesW    float64 `json:"losses_w"`
	MinVoltage float64 `json:"min_voltage_pu"`
	MinBus     int     `json:"min_bus"`
	MaxVoltage float64 `json:"max_voltage_pu"`
	MaxBus     int     `json:"max_bus"`
}

// LoadFeeder reads a MATPOWER case and places n units on its buses: at the given buses, or, when
// buses is empty, one per bus in the case's order after the slack, wrapping round on small cases.
func LoadFeeder(path string, n int, buses []int) (*Feeder, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("feeder: %w", err)
	}
	defer f.Close()
	c, err := grid.ParseMATPOWER(f, path)
	if err != nil {
		return nil, fmt.Errorf("feeder: %w", err)
	}
	return NewFeeder(c, n, buses)
}

// NewFeeder places n units on case c (see LoadFeeder).
func NewFeeder(c *grid.Case, n int, buses []int) (*Feeder, error) {
	if len(buses) == 0 {
		var load []int
		for _, b := range c.Buses {
			if b.Type == grid.PQ { // load buses: units sit downstream of the slack
				load = append(load, b.ID)
			}
		}
		if len(load) == 0 {
			return nil, fmt.Errorf("feeder %s: no bus but the slack", c.Name)
		}
		for i := range n {
			buses = append(buses, load[i%len(load)])
		}
	}
	if len(buses) != n {
		return nil, fmt.Errorf("feeder %s: %d buses for %d units", c.Name, len(buses), n)
	}
	d, err := grid.ElectricalDistance(c, buses)
	if err != nil {
		return nil, fmt.Errorf("feeder: %w", err)
	}
	fd := &Feeder{Case: c, Buses: buses, Distance: d}
	var sum float64
	var pairs int
	for i := range d {
		for j := range d[i] {
			if i != j {
				sum += d[i][j]
				pairs++
			}
		}
	}
	if pairs > 0 && sum > 0 {
		fd.meanDist = sum / float64(pairs)
	}
	return fd, nil
}

// NetworkCharge is the charge per kWh of a trade between units i and j: rate scaled by their electrical
// distance against the mean distance between the community's units, so an average trade pays rate.
func (f *Feeder) NetworkCharge(i, j int, rate units.PricePerKWh) units.PricePerKWh {
	if f == nil || f.meanDist == 0 {
		return rate
	}
	return units.PricePerKWh(float64(rate) * f.Distance[i][j] / f.meanDist)
}

// Solve runs the AC power flow with each unit's net import (W, positive importing) added to its bus.
func (f *Feeder) Solve(netImport []units.Watts) (FeederResult, error) {
	c := f.Case.Clone()
	idx := c.BusIndex()
	for i, w := range netImport {
		c.Buses[idx[f.Buses[i]]].Pd += float64(w) / 1e6
	}
	r, err := grid.Solve(c, grid.Options{})
	if err != nil {
		return FeederResult{}, fmt.Errorf("feeder %s: %w", c.Name, err)
	}
	lo, loBus := r.MinVoltage()
	hi, hiBus := r.MaxVoltage()
	return FeederResult{LossesW: r.LossesMW * 1e6, MinVoltage: lo, MinBus: loBus, MaxVoltage: hi, MaxBus: hiBus}, nil
}

// ScaleLoads scales the case's own loads (its other customers) by k.
func (f *Feeder) ScaleLoads(k float64) {
	c := f.Case.Clone()
	for i := range c.Buses {
		c.Buses[i].Pd *= k
		c.Buses[i].Qd *= k
	}
	f.Case = c
}
