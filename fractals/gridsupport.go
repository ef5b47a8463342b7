package fractals

import (
	"math"

	"github.com/fractals-energy/fractals/grid/ieee1547"
	"github.com/fractals-energy/fractals/internal/units"
)

// The IEEE 1547-2018 grid-support responses of a connected unit, at their default characteristics
// (volt-var of normal category B, volt-watt, frequency-droop of the relay's category): they act on
// the PV inverter, whose rating is the apparent power the reactive fraction refers to.
var (
	defaultVoltVar  = ieee1547.DefaultVoltVar(ieee1547.CategoryB)
	defaultVoltWatt = ieee1547.DefaultVoltWatt()
)

// gridSupport narrows the PV limit by volt-watt and over-frequency droop and sets the reactive power
// by volt-var, from the PCC's voltage and frequency. Without a good measurement it does nothing.
func gridSupport(p *plan) {
	s := &p.s
	rated := p.pvLimit.hi
	if !s.PVRated.Good() || rated <= 0 || math.IsInf(float64(rated), 0) {
		return
	}
	if s.GridVoltage.Good() {
		v := float64(s.GridVoltage.Value.PU(p.cfg.NominalVoltage))
		if lim := defaultVoltWatt.Limit(v); !math.IsNaN(lim) {
			p.pvLimit.narrow(0, units.Watts(max(lim, 0))*rated)
		}
		if q := defaultVoltVar.Target(v); !math.IsNaN(q) {
			p.reactive = units.VoltAmperesReactive(q * float64(rated))
		}
	}
	if s.GridFrequency.Good() {
		fd := ieee1547.DefaultFrequencyDroopAt(p.cfg.Protecting().Relay.Category, float64(p.cfg.NominalFrequency))
		// Over-frequency only: PV has no headroom to add, so the pre-disturbance output is its rating.
		if frac := fd.Power(float64(s.GridFrequency.Value), 1, 0, 1); frac < 1 {
			p.pvLimit.narrow(0, units.Watts(max(frac, 0))*rated)
		}
	}
}
