package hil

import "github.com/fractals-energy/fractals/internal/units"

// Curtailment by frequency shift in an island. When the island has more PV than its loads and the
// battery's charge limit take (a full battery), the grid-forming inverter raises the island's
// frequency and the PV inverter follows its frequency-watt curve down to exactly the power the island
// can use: IEEE 1547-2018's over-frequency droop at the category III limits, a 0.036 Hz dead band
// (scaled to the nominal frequency) and a 2 % droop, so each 1 % of the PV rating curtailed lifts
// the frequency by 2 % of 1 % of nominal (0.01 Hz at 50 Hz). The shift stops short of the 51 Hz (61.2
// Hz) continuous limit; what is left beyond it is curtailed by the inverter's own limit. The plant
// solves the equilibrium each step: the energy is that of set-point curtailment, the frequency shows
// how it was reached.
const (
	curtailDeadBandPU = 0.036 / 60 // dead band, p.u. of nominal
	curtailDroop      = 0.02       // p.u. frequency for the whole PV rating
	curtailMaxShiftPU = 0.97 / 50  // most the forming inverter shifts, p.u. (0.97 Hz at 50 Hz)
)

// curtailShift is the frequency above nominal that makes the PV inverter give up curtailed watts.
func (p *Plant) curtailShift(curtailed units.Watts) units.Hertz {
	if curtailed <= 0 {
		return 0
	}
	fn := float64(p.cfg.Grid.NominalFrequency)
	share := float64(curtailed) / max(1, float64(p.cfg.PV.ACRating()))
	shift := fn * (curtailDeadBandPU + curtailDroop*share)
	return units.Hertz(min(shift, fn*curtailMaxShiftPU))
}

// CurtailShift is the island frequency's rise above its droop that is curtailing PV now.
func (p *Plant) CurtailShift() units.Hertz { p.mu.Lock(); defer p.mu.Unlock(); return p.shift }
