package hil

import (
	"math"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// The readings below are what the plant's devices would show at the current instant: flows are those
// of the step just done; inputs (available PV, load demands) those of the coming step, or of the step
// just done with MeasurementLag.

// PVOutput is the PV inverter's AC output of the last step.
func (p *Plant) PVOutput() units.Watts { p.mu.Lock(); defer p.mu.Unlock(); return p.pvOut }

// PVAvailable is what the PV inverter could give now without a limit.
func (p *Plant) PVAvailable() units.Watts { p.mu.Lock(); defer p.mu.Unlock(); return p.shownPVAvail }

// PVRated is the PV inverter's AC rating.
func (p *Plant) PVRated() units.Watts { return p.cfg.PV.ACRating() }

// SetPVLimit caps the PV inverter's AC output from the next step.
func (p *Plant) SetPVLimit(w units.Watts) {
	if math.IsNaN(float64(w)) {
		return // a device refuses a value that is not a number; the old set-point stays
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pvLimit, p.pvWritten = units.Watts(math.Max(0, float64(w))), p.elapsed
}

// Battery returns the battery's state.
func (p *Plant) Battery() BatteryState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return BatteryState{Power: p.batteryPower, SoC: p.battery.soc(), Stored: p.battery.stored,
		ChargeLimit: p.cfg.Battery.MaxCharge, DischargeLimit: p.cfg.Battery.MaxDischarge,
		GridForming: (!p.gridUp || !p.pccClosed) && !p.onFeederIsland() && !p.dark()}
}

// SetBatteryPower sets the battery's AC set-point (positive charging) from the next step.
func (p *Plant) SetBatteryPower(w units.Watts) {
	if math.IsNaN(float64(w)) {
		return // a device refuses a value that is not a number; the old set-point stays
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batterySet, p.batWritten = w, p.elapsed
}

// Grid returns the PCC meter's view.
func (p *Plant) Grid() GridState {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := GridState{Power: p.gridPower, Present: p.gridUp, PCCClosed: p.pccClosed,
		Voltage: p.cfg.Grid.NominalVoltage, Frequency: p.cfg.Grid.NominalFrequency}
	if p.gridUp && p.pccClosed {
		g.Voltage, g.Frequency = p.utilityVF()
		g.Voltage = p.feederVoltage(g.Voltage)
	}
	if p.onCommunityIsland() {
		g.Frequency = p.tie.freq
	}
	if !p.gridUp || !p.pccClosed {
		// Islanded: the battery inverter forms the grid (islandFrequency).
		g.Frequency = p.islandFrequency()
	}
	if p.onFeederIsland() {
		// The unit holds the dead section up: it looks energised, at the voltage and frequency the
		// unit's own inverters give it.
		fi := p.feeder
		g.Present = true
		g.Voltage = units.Volts(float64(p.cfg.Grid.NominalVoltage) * fi.voltage)
		g.Frequency = units.Hertz(fi.frequency)
	}
	if (!p.gridUp || !p.pccClosed) && p.dark() {
		g.Voltage, g.Frequency = 0, 0 // a dark island
	}
	if !p.gridUp && !p.pccClosed {
		// The meter sits on the unit's side of the PCC: it sees the island's voltage, not the utility's.
		g.Power = 0
	}
	return g
}

// SetPCC closes or opens the point-of-common-coupling breaker from the next step.
// A stuck contactor (SetPCCStuck) ignores the command.
func (p *Plant) SetPCC(closed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.pccStuck {
		p.pccClosed = closed
	}
}

// Load returns one switched load's state.
func (p *Plant) Load(k LoadKind) LoadState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return LoadState{Power: p.served[k], Demand: p.shownDemand[k], On: p.loadOn[k]}
}

// SetLoad switches a load's relay from the next step.
func (p *Plant) SetLoad(k LoadKind, on bool) { p.mu.Lock(); defer p.mu.Unlock(); p.loadOn[k] = on }

// EV returns the charger's view of the car.
func (p *Plant) EV() EVState {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ev.connected {
		return EVState{}
	}
	return EVState{Connected: true, Power: p.evPower, MaxPower: p.cfg.EV.MaxPower, Delivered: p.ev.delivered,
		Needed: p.ev.needed, Deadline: p.local(p.ev.deadline)}
}

// SetEVPower sets the charger's power from the next step.
func (p *Plant) SetEVPower(w units.Watts) {
	if math.IsNaN(float64(w)) {
		return // a device refuses a value that is not a number; the old set-point stays
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.evSet, p.evWritten = w, p.elapsed
}

// Counters returns the energy counters so far.
func (p *Plant) Counters() Counters { p.mu.Lock(); defer p.mu.Unlock(); return p.counters }

// Sessions returns the EV sessions that ended (the car left) so far.
func (p *Plant) Sessions() []EVSession {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]EVSession(nil), p.sessions...)
}

// OpenSession returns the EV session in progress, if any.
func (p *Plant) OpenSession() (EVSession, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ev.connected {
		return EVSession{}, false
	}
	return EVSession{Needed: p.ev.needed, Delivered: p.ev.delivered, DeadlineElapsed: p.ev.deadline.Seconds(),
		Met: p.ev.delivered >= p.ev.needed-1e-6}, true
}

// Elapsed is the simulated time since the start.
func (p *Plant) Elapsed() time.Duration { p.mu.Lock(); defer p.mu.Unlock(); return p.elapsed }
