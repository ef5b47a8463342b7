package hil

import (
	"math"

	"github.com/fractals-energy/fractals/internal/units"
)

// tie is how the community feeder (community.go) holds a unit's plant: in a community island the
// unit's PCC stays closed on the feeder, whose frequency the grid-forming batteries set by droop, and
// its battery gives its droop share of the island's imbalance on top of its set-point. Volt is the
// unit's bus voltage from the feeder's power flow (0: nominal).
type tie struct {
	island bool
	extra  units.Watts // droop share: positive discharges more than the set-point
	freq   units.Hertz
	volt   units.PerUnit
}

// setTie hands the plant the feeder's state for the next step.
func (p *Plant) setTie(t tie) { p.mu.Lock(); defer p.mu.Unlock(); p.tie = t }

// onCommunityIsland is true while the plant is held up by the community's droop through its closed
// PCC. Call with the lock held.
func (p *Plant) onCommunityIsland() bool { return p.tie.island && p.pccClosed && p.gridUp }

// droopSetpoint is the battery's set-point with its droop share added. Call with the lock held.
func (p *Plant) droopSetpoint() units.Watts {
	if p.onCommunityIsland() {
		return p.batterySet - p.tie.extra
	}
	return p.batterySet
}

// feederVoltage scales the voltage the meter shows by the bus voltage of the feeder's power flow.
// Call with the lock held.
func (p *Plant) feederVoltage(v units.Volts) units.Volts {
	if p.tie.volt > 0 && !math.IsNaN(float64(p.tie.volt)) {
		return units.Volts(float64(v) * float64(p.tie.volt))
	}
	return v
}
