package ieee1547

import "time"

// A Relay and an EnterServiceState are values: their ride-through tables are shared, read-only
// package data, and everything that changes is held in arrays and scalars, so a copy is a whole
// independent state. The functions below are the value-typed forms the controller keeps in its state.

// NewRelayValue builds a relay value after checking its settings.
func NewRelayValue(s Settings) (Relay, error) {
	r, err := NewRelay(s)
	if err != nil {
		return Relay{}, err
	}
	return *r, nil
}

// Step returns the relay after one sample taken dt after the previous one, and its decision; r itself
// is not changed.
func Step(r Relay, m Sample, dt time.Duration) (Relay, Decision) {
	d := r.Step(m, dt)
	return r, d
}

// Settings returns the relay's settings.
func (r *Relay) Settings() Settings { return r.settings }

// NewEnterServiceValue starts waiting to enter service, as a value.
func NewEnterServiceValue(s EnterService) (EnterServiceState, error) {
	e, err := NewEnterService(s)
	if err != nil {
		return EnterServiceState{}, err
	}
	return *e, nil
}

// StepEnterService returns the enter-service state after one measurement (voltage in p.u., frequency
// in Hz) and the output fraction it permits; e itself is not changed.
func StepEnterService(e EnterServiceState, v, f float64, dt time.Duration) (EnterServiceState, float64) {
	p := e.Step(v, f, dt)
	return e, p
}

// Restart forgets the time waited and the ramp: the DER has left service and must wait again.
func (e *EnterServiceState) Restart() { *e = EnterServiceState{settings: e.settings} }

// Waited is how long the enter-service window has held so far.
func (e *EnterServiceState) Waited() time.Duration { return e.waited }
