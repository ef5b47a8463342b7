package fractals

import (
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// Energy counts the energy the controller has seen flow on the AC bus, integrating each cycle's good
// readings over the time to the next cycle. The plant's own meters are the truth; these counters are
// what the unit reports and settles against when it has nothing better.
type Energy struct {
	PV               units.WattHours `json:"pv"`
	Load             units.WattHours `json:"load"`
	BatteryCharge    units.WattHours `json:"battery_charge"`
	BatteryDischarge units.WattHours `json:"battery_discharge"`
	GridImport       units.WattHours `json:"grid_import"`
	GridExport       units.WattHours `json:"grid_export"`
}

// Add integrates the powers of snapshot s held for dt.
func (e *Energy) Add(s *Snapshot, dt time.Duration) {
	if s.PVPower.Good() {
		e.PV += s.PVPower.Value.Over(dt)
	}
	for k := range s.Loads {
		if s.Loads[k].Power.Good() {
			e.Load += s.Loads[k].Power.Value.Over(dt)
		}
	}
	if s.EVPower.Good() {
		e.Load += s.EVPower.Value.Over(dt)
	}
	if s.BatteryPower.Good() {
		charge, discharge := split(s.BatteryPower.Value)
		e.BatteryCharge += charge.Over(dt)
		e.BatteryDischarge += discharge.Over(dt)
	}
	if s.GridPower.Good() {
		imp, exp := split(s.GridPower.Value)
		e.GridImport += imp.Over(dt)
		e.GridExport += exp.Over(dt)
	}
}

// split returns the positive and the negative part of p as magnitudes.
func split(p units.Watts) (pos, neg units.Watts) {
	if p >= 0 {
		return p, 0
	}
	return 0, -p
}
