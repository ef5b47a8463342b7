package hil

import (
	"math"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// The unintentional island of IEEE 1547.1 (clause 5.7): the utility's breaker upstream opens and
// leaves the unit, its PCC still closed, on a dead feeder section with a parallel RLC load that
// takes exactly what the unit was exporting (real and reactive power matched, resonant at the
// nominal frequency, quality factor Outage.LoadQuality). Nothing at the PCC changes: the breaker
// status input still reads energised (the unit energises the section), and voltage and frequency stay
// where they were unless an inverter pushes them, which is what an active anti-islanding method does.
//
// The model is the phase criterion of a grid-following island: the RLC load's current must be in
// phase with what the inverters inject, so each line cycle the voltage settles at the frequency f
// where Qf·(f/f0 − f0/f) = tan θ − Q/P, with θ the inverters' current phase lead and Q/P their
// reactive injection per exported watt. Real power sets the voltage: V = √(P/P0), P0 the export at
// the moment the utility went.

// Sandia frequency shift of the simulated PV inverter (when the controller turns it on): the current
// leads the voltage by θ = π/2 · cf, with the chopping fraction cf = sfsChopping0 + sfsGain·(f − fn),
// bounded by ±sfsChoppingMax. Tied to a stiff utility it only adds a little distortion; on an island
// it is positive feedback that walks the frequency out of the detector's window.
const (
	sfsChopping0   = 0.01 // at nominal frequency
	sfsGain        = 0.05 // per Hz of deviation
	sfsChoppingMax = 0.05
)

// minIslandExport is the smallest export an RLC load can be matched to: below it the section has
// nothing to hold it up and goes dead at once, an ordinary outage.
const minIslandExport units.Watts = 100

// feederIsland is the state of an unintentional island: the dead section the unit still energises.
type feederIsland struct {
	active    bool
	quality   float64     // the RLC load's quality factor
	matched   units.Watts // P0: the export the load was matched to
	voltage   float64     // p.u.
	frequency float64     // Hz
}

// SetFrequencyShift turns the PV inverter's active anti-islanding (Sandia frequency shift) on or off.
func (p *Plant) SetFrequencyShift(on bool) { p.mu.Lock(); defer p.mu.Unlock(); p.frequencyShift = on }

// FrequencyShift reports whether the PV inverter's Sandia frequency shift is on.
func (p *Plant) FrequencyShift() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.frequencyShift }

// outageQuality is the RLC quality factor of the outage that begins at elapsed at, 0 if none.
func (p *Plant) outageQuality(at time.Duration) float64 {
	for _, o := range p.cfg.Grid.Outages {
		if at >= o.From && at < o.To {
			return o.LoadQuality
		}
	}
	return 0
}

// startFeederIsland begins an unintentional island when the utility has just gone, the PCC is closed,
// the outage leaves an RLC load behind and the unit was exporting enough to match it. Call with the
// lock held, after the inputs moved to the new instant.
func (p *Plant) startFeederIsland(wasUp bool) {
	fi := &p.feeder
	switch {
	case p.gridUp || !p.pccClosed:
		*fi = feederIsland{}
	case wasUp && !fi.active:
		q := p.outageQuality(p.elapsed)
		if q > 0 && -p.gridPower >= minIslandExport {
			*fi = feederIsland{active: true, quality: q, matched: -p.gridPower, voltage: 1,
				frequency: float64(p.cfg.Grid.NominalFrequency)}
		}
	}
}

// balanceFeederIsland sets the flows of a step on the unintentional island: the battery follows its
// set-point (it does not form: its side of the PCC is live), the RLC load takes the unit's export
// (still within the export limit the inverters enforce), and the voltage follows from it. An export that falls to nothing collapses the island. Call with
// the lock held.
func (p *Plant) balanceFeederIsland(dt time.Duration) {
	p.balanceConnected(p.battery.chargeLimit(dt), p.battery.dischargeLimit(dt))
	export := -p.gridPower
	fi := &p.feeder
	if export < minIslandExport/2 {
		// The section's load now takes more than the unit gives: it collapses, and the unit's
		// side sees an ordinary outage (the battery forms the grid as on any dead PCC).
		fi.active = false
		return
	}
	fi.voltage = math.Sqrt(float64(export / fi.matched))
}

// onFeederIsland is true while the unit energises the dead section through its closed PCC. Call
// with the lock held.
func (p *Plant) onFeederIsland() bool { return p.feeder.active && p.pccClosed && !p.gridUp }

// advanceFeederIsland walks the island's frequency over dt, one line cycle at a time, by the phase
// criterion (see the top of this file). Call with the lock held, after balance.
func (p *Plant) advanceFeederIsland(dt time.Duration) {
	fi := &p.feeder
	if !p.onFeederIsland() {
		return
	}
	fn := float64(p.cfg.Grid.NominalFrequency)
	export := math.Max(float64(-p.gridPower), 1)
	pvShare := math.Min(1, float64(p.pvOut)/export)
	cycles := max(1, int(math.Round(dt.Seconds()*fn)))
	for range cycles {
		theta := 0.0
		if p.frequencyShift {
			cf := math.Max(-sfsChoppingMax, math.Min(sfsChoppingMax, sfsChopping0+sfsGain*(fi.frequency-fn)))
			theta = math.Pi / 2 * cf * pvShare
		}
		t := (math.Tan(theta) - float64(p.reactive)/export) / fi.quality
		x := (t + math.Sqrt(t*t+4)) / 2 // f/f0 solving x − 1/x = t
		fi.frequency = fn * x
	}
}
