package hil

import (
	"math"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// ReturnPhaseDeg is the phase of the utility against the island when it comes back after an outage:
// an island that drifted on its own droop is out of phase with the utility, and the controller must
// bring it round before closing the PCC.
const ReturnPhaseDeg = 120

// UtilitySide is the utility as a synchronising relay senses it on the far side of the PCC.
type UtilitySide struct {
	Voltage   units.Volts
	Frequency units.Hertz
	PhaseDeg  float64 // utility phase minus island phase, degrees in (-180, 180]
}

// Utility returns the utility side of the PCC: zero voltage and frequency while the utility is out.
func (p *Plant) Utility() UtilitySide {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.onCommunityIsland() {
		return UtilitySide{Voltage: p.feederVoltage(p.cfg.Grid.NominalVoltage), Frequency: p.tie.freq}
	}
	if p.onFeederIsland() {
		return UtilitySide{Voltage: units.Volts(float64(p.cfg.Grid.NominalVoltage) * p.feeder.voltage), Frequency: units.Hertz(p.feeder.frequency)}
	}
	if !p.gridUp {
		return UtilitySide{}
	}
	v, f := p.utilityVF()
	return UtilitySide{Voltage: v, Frequency: f, PhaseDeg: math.Remainder(p.utilityPhase, 360)}
}

// SetGridForming records the battery inverter's grid-forming command. The simulated hybrid inverter
// forms the grid whenever its side of the PCC is dead, whatever it was told, as the real ones do.
func (p *Plant) SetGridForming(on bool) { p.mu.Lock(); defer p.mu.Unlock(); p.formingCommand = on }

// SetFormingSetpoints sets the frequency and voltage the grid-forming inverter holds in an island;
// zero frequency returns it to its own droop.
func (p *Plant) SetFormingSetpoints(f units.Hertz, v units.Volts) {
	if math.IsNaN(float64(f)) || math.IsNaN(float64(v)) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.formingFreq, p.formingVolt = f, v
}

// islandFrequency is the grid-forming battery's frequency: its set-point when it has one, otherwise a
// 2 % droop at full discharge, raised by the shift that curtails surplus PV (curtail.go). Call with
// the lock held.
func (p *Plant) islandFrequency() units.Hertz {
	if p.formingFreq > 0 {
		return p.formingFreq
	}
	loading := math.Max(0, float64(-p.batteryPower)) / math.Max(1, float64(p.cfg.Battery.MaxDischarge))
	return units.Hertz(float64(p.cfg.Grid.NominalFrequency)*(1-0.02*loading)) + p.shift
}

// advanceUtility moves the phase between the utility and the island over dt: it rotates at their
// frequency difference while the PCC is open, is zero while they are tied, and starts at
// ReturnPhaseDeg when the utility comes back. Call with the lock held, before the inputs move on.
func (p *Plant) advanceUtility(dt time.Duration, wasUp bool) {
	switch {
	case !p.gridUp:
		p.utilityPhase = 0
	case !wasUp:
		p.utilityPhase = ReturnPhaseDeg
	case p.pccClosed:
		p.utilityPhase = 0
	default:
		slip := float64(p.cfg.Grid.NominalFrequency - p.islandFrequency())
		p.utilityPhase = math.Remainder(p.utilityPhase+360*slip*dt.Seconds(), 360)
	}
}

// SetPCCStuck makes the PCC contactor ignore its commands (welded or jammed) until released.
func (p *Plant) SetPCCStuck(stuck bool) { p.mu.Lock(); defer p.mu.Unlock(); p.pccStuck = stuck }

// Excursion is a window of elapsed time in which the utility holds the given voltage (p.u. of
// nominal) and frequency instead of nominal: a sag, a swell or a frequency event at the feeder head.
type Excursion struct {
	From, To  time.Duration
	Voltage   units.PerUnit
	Frequency units.Hertz
}

// utilityVF is the utility's voltage and frequency now. Call with the lock held.
func (p *Plant) utilityVF() (units.Volts, units.Hertz) {
	g := p.cfg.Grid
	for _, e := range g.Excursions {
		if p.elapsed >= e.From && p.elapsed < e.To {
			return units.Volts(float64(g.NominalVoltage) * float64(e.Voltage)), e.Frequency
		}
	}
	return g.NominalVoltage, g.NominalFrequency
}
