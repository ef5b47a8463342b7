package hil

// A full blackout and the black start. The grid-forming inverter can trip (TripForming: an overload,
// an internal fault): an island it was holding goes dark, with nothing served and zero voltage and
// frequency at the meter. A tripped inverter restarts only when its controller has told it to cease
// to energize and then to energize again (SetEnergize false, then true): that is the black start.
// SetEnergize false on its own is IEEE 1547's cease to energize: PV and battery give nothing.

// TripForming makes the grid-forming inverter trip now.
func (p *Plant) TripForming() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.formingTripped, p.ceasedSinceTrip = true, false
}

// SetEnergize lets the unit's inverters energize (true) or makes them cease to energize (false),
// the connect/disconnect control. Energizing after a cease restarts a tripped grid-forming inverter.
func (p *Plant) SetEnergize(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ceased = !on
	if !on {
		p.ceasedSinceTrip = true
	} else if p.formingTripped && p.ceasedSinceTrip {
		p.formingTripped = false
		p.blackStarts++
	}
}

// Energizing reports whether the inverters may energize (no cease command) and whether the
// grid-forming inverter is tripped.
func (p *Plant) Energizing() (energize, tripped bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.ceased, p.formingTripped
}

// BlackStarts counts the tripped grid-forming inverter's restarts.
func (p *Plant) BlackStarts() int { p.mu.Lock(); defer p.mu.Unlock(); return p.blackStarts }

// dark is true when the island has no source: its grid-forming inverter tripped or ceased. Call
// with the lock held, in an island.
func (p *Plant) dark() bool { return p.formingTripped || p.ceased }

// balanceDark sets the flows of a step on a dark island: nothing flows. Call with the lock held.
func (p *Plant) balanceDark() {
	p.pvOut, p.batteryPower, p.gridPower, p.evPower = 0, 0, 0, 0
	for k := range p.served {
		p.served[k] = 0
	}
}
