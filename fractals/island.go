package fractals

import (
	"fmt"
	"math"
	"time"

	"github.com/fractals-energy/fractals/grid/ieee1547"
	"github.com/fractals-energy/fractals/grid/islanding"
	"github.com/fractals-energy/fractals/internal/units"
)

// Phase is where the unit is in the island state machine.
type Phase uint8

const (
	// PhaseConnected: PCC closed, the utility holds voltage and frequency.
	PhaseConnected Phase = iota
	// PhaseOpening: an island was detected (or planned); the PCC is commanded open and its feedback
	// awaited.
	PhaseOpening
	// PhaseIslanded: PCC open, the battery inverter forms the grid.
	PhaseIslanded
	// PhaseSynchronising: the utility has held the enter-service window for its delay; the
	// grid-forming inverter matches its frequency, voltage and phase.
	PhaseSynchronising
	// PhaseClosing: synchronised; the PCC is commanded closed and its feedback awaited.
	PhaseClosing
	// PhaseStuckClosed: the PCC did not open while the utility is out. The DER ceases to energize so
	// it cannot feed the utility's dead line, and the open command is repeated.
	PhaseStuckClosed
	// PhaseBlackout: the island collapsed (the relay tripped on it); dark until the black start.
	PhaseBlackout
	// PhaseOpenCease: the open transition of a site without a utility-side sensor (nothing to
	// synchronise on). The utility's presence input held for the enter-service delay; the
	// grid-forming inverter and every DER cease for openTransitionDeadTime, the PCC still open.
	PhaseOpenCease
	// PhaseOpenClose: the open transition's close: the PCC is commanded closed onto the dead island
	// bus, the DER still ceased; once the meter (now on the utility) reads the enter-service window,
	// connected, and output ramps back.
	PhaseOpenClose
)

// openTransitionDeadTime is how long the island is dark before the PCC closes in an open
// transition: long enough for the grid-forming inverter to have stopped (a few of its cycles and one
// protection tick), short enough that a critical load rides it on its own hold-up.
const openTransitionDeadTime = time.Second

var phaseNames = [...]string{"connected", "opening", "islanded", "synchronising", "closing", "stuck_closed", "blackout",
	"open_transition_cease", "open_transition_close"}

// String names the phase.
func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "unknown"
}

// MarshalText makes phases readable in JSON.
func (p Phase) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// mode is the controller's view of the phase: anything but connected plans without the grid.
func (p Phase) mode() Mode {
	if p == PhaseConnected {
		return Connected
	}
	return Islanded
}

// PCCWanted is true in the phases whose PCC command is closed.
func (p Phase) PCCWanted() bool {
	return p == PhaseConnected || p == PhaseClosing || p == PhaseOpenClose
}

// ceased is true in the phases where every DER, the grid-forming battery included, is stopped.
func (p Phase) ceased() bool {
	return p == PhaseStuckClosed || p == PhaseBlackout || p == PhaseOpenCease || p == PhaseOpenClose
}

// forming is true in the phases where the battery inverter forms the grid: from the PCC confirmed
// open until it is confirmed closed again.
func (p Phase) forming() bool {
	return p == PhaseIslanded || p == PhaseSynchronising || p == PhaseClosing
}

// Island is the island state machine's state.
type Island struct {
	Phase   Phase     `json:"phase"`
	Since   time.Time `json:"since"`
	Reason  string    `json:"reason"`
	Tries   int       `json:"switch_tries"` // PCC re-drives in this phase
	Planned bool      `json:"planned"`      // an island on command: held until the command is withdrawn
	// FrequencySet and VoltageSet are what the grid-forming inverter is asked to hold while
	// synchronising (zero otherwise: its own droop).
	FrequencySet units.Hertz `json:"frequency_set,omitempty"`
	VoltageSet   units.Volts `json:"voltage_set,omitempty"`
	// BlackStart: this island was black-started; its bus may still be dark for blackStartRise.
	BlackStart bool `json:"black_start,omitempty"`
	// Redrive asks the writer to send the PCC command again now: its feedback disagrees.
	Redrive bool `json:"-"`
}

// blackStartRise is how long a black-started grid-forming inverter has to bring the dark bus up
// (its energize command goes out with the next cycle's write, then it ramps its voltage) before the
// relay's verdict on the bus counts again; a bus still dark after it is a failed black start.
const blackStartRise = 3 * time.Second

// RequestIsland is the planned-island command: true opens the PCC at the next tick and holds the
// island; false lets the unit reconnect through enter-service and synchronisation.
func RequestIsland(st State, on bool) State {
	st.Island.Planned = on
	return st
}

func (st *State) enter(phase Phase, at time.Time, reason string, ev func(string, string)) {
	from := st.Island.Phase
	st.Island.Phase, st.Island.Since, st.Island.Reason, st.Island.Tries = phase, at, reason, 0
	st.Island.FrequencySet, st.Island.VoltageSet, st.Island.BlackStart = 0, 0, false
	st.Mode = phase.mode()
	ev("island_"+phase.String(), fmt.Sprintf("%s → %s: %s", from, phase, reason))
}

// boot picks the first phase from the first sample, so a unit never passes through a wrong state: it
// starts islanded when it boots during an outage, and connected (as before) otherwise.
func boot(st *State, m ProtectionSample, ev func(string, string)) {
	if utilityAbsent(m) {
		st.enter(PhaseOpening, m.At, "booted without the utility: PCC open, battery forms the grid", ev)
		return
	}
	if st.Island.Phase != PhaseConnected && m.PCCClosed.Good() && !m.PCCClosed.Value {
		// Restored islanded after a restart, and the PCC is still open: reconnecting goes through
		// enter service and synchronisation like any return of the utility, counted from now.
		st.enter(PhaseIslanded, m.At, "restarted islanded with the PCC open: reconnect through enter service and synchronisation", ev)
		return
	}
	st.Island.Phase, st.Mode = PhaseConnected, Connected
}

// utilityAbsent is true when the breaker status input says the utility is out: read false, or lost
// for longer than the stale limit after having been read. A meter never read or stale says nothing.
func utilityAbsent(m ProtectionSample) bool {
	switch m.GridPresent.Quality {
	case Good:
		return !m.GridPresent.Value
	case Missing:
		return !m.GridPresent.At.IsZero()
	}
	return false
}

func stepIsland(cfg *Config, st *State, m ProtectionSample, dt time.Duration, ev func(string, string)) {
	st.Island.Redrive = false
	switch st.Island.Phase {
	case PhaseConnected:
		connected(cfg, st, m, dt, ev)
	case PhaseOpening, PhaseStuckClosed:
		opening(cfg, st, m, ev)
	case PhaseIslanded, PhaseSynchronising:
		islanded(cfg, st, m, dt, ev)
	case PhaseClosing:
		closing(cfg, st, m, ev)
	case PhaseOpenCease, PhaseOpenClose:
		openTransition(cfg, st, m, ev)
	case PhaseBlackout:
		if m.At.Sub(st.Island.Since) >= cfg.Protection.BlackStartDelay {
			resetRelay(&st.Protection)
			st.enter(PhaseIslanded, m.At, "black start: the battery inverter forms the grid from dark", ev)
			st.Island.BlackStart = true
		}
	}
}

// connected watches for an island: the detector (out of settings, RoCoF, vector shift, breaker
// status), a relay trip, or the planned-island command; and ramps DER output after reconnection.
func connected(cfg *Config, st *State, m ProtectionSample, dt time.Duration, ev func(string, string)) {
	p := &st.Protection
	if p.RampFraction < 1 {
		p.enter, p.RampFraction = ieee1547.StepEnterService(p.enter, 1, float64(cfg.NominalFrequency), dt)
		if p.RampFraction >= 1 {
			ev("ramp_done", "output ramp after reconnection complete")
		}
	}
	if st.Island.Planned {
		st.enter(PhaseOpening, m.At, "planned island on command", ev)
		return
	}
	if p.Tripped != "" {
		st.enter(PhaseOpening, m.At, "relay tripped ("+p.Tripped+"): the DER may not energize the utility", ev)
		return
	}
	if m.GridPresent.Quality == Stale {
		return // a communication hiccup neither islands nor reconnects
	}
	if m.GridPresent.Quality == Missing && m.GridPresent.At.IsZero() {
		return // never read yet: nothing to detect on
	}
	sample := islanding.Sample{At: m.At, V: 1, F: cfg.NominalFrequency, PhaseDeg: m.PhaseDeg, BreakerClosed: !utilityAbsent(m)}
	if m.Voltage.Good() && m.Frequency.Good() {
		sample.V, sample.F = m.Voltage.Value.PU(cfg.NominalVoltage), m.Frequency.Value
	}
	if !m.PhaseKnown {
		// The phase the previous frequency explains: what the detector expects, so no shift is seen.
		p.phaseDeg = math.Remainder(p.phaseDeg+360*float64(p.lastF-cfg.NominalFrequency)*dt.Seconds(), 360)
		sample.PhaseDeg = p.phaseDeg
	}
	p.lastF = sample.F
	var det islanding.Detection
	var found bool
	var err error
	p.detector, det, found, err = islanding.Step(p.detector, sample)
	if err == nil && found {
		st.enter(PhaseOpening, m.At, det.String(), ev)
	}
}

// opening waits for the PCC feedback to show open, re-driving the command every switch timeout; after
// the retries it is stuck, and the DER ceases to energize while the open command goes on.
func opening(cfg *Config, st *State, m ProtectionSample, ev func(string, string)) {
	if !m.PCCClosed.Good() || !m.PCCClosed.Value {
		// Open (or no feedback wired: the command is trusted). The island forms.
		resetRelay(&st.Protection)
		st.Protection.detector.Reset()
		st.Protection.enter = freshEnter(cfg)
		reason := "PCC open: the battery inverter forms the grid"
		if st.Island.Phase == PhaseStuckClosed {
			reason = "PCC finally open: the battery inverter forms the grid"
		}
		st.enter(PhaseIslanded, m.At, reason, ev)
		return
	}
	pc := &cfg.Protection
	if st.Island.Phase == PhaseOpening && !utilityAbsent(m) && !st.Island.Planned && st.Protection.Tripped == "" &&
		m.At.Sub(st.Island.Since) >= pc.SwitchTimeout*time.Duration(pc.SwitchRetries+1) {
		// The contactor never opened but the utility is back: nothing to island from.
		st.enter(PhaseConnected, m.At, "PCC did not open and the utility is present: stay connected", ev)
		return
	}
	if m.At.Sub(st.Island.Since) >= pc.SwitchTimeout*time.Duration(st.Island.Tries+1) {
		st.Island.Tries++
		st.Island.Redrive = true
		if st.Island.Phase == PhaseOpening && st.Island.Tries >= pc.SwitchRetries {
			st.enter(PhaseStuckClosed, m.At, fmt.Sprintf("PCC still closed after %d open commands: DER ceases to energize", pc.SwitchRetries), ev)
			st.Island.Redrive = true
		}
	}
}

// islanded waits for the utility to hold the enter-service window for its delay, then synchronises
// the island to it through the grid-forming inverter's set-points and closes when inside the window.
func islanded(cfg *Config, st *State, m ProtectionSample, dt time.Duration, ev func(string, string)) {
	p := &st.Protection
	if st.Island.BlackStart && m.At.Sub(st.Island.Since) < blackStartRise {
		resetRelay(p) // the bus is still coming up: a trip on it is not the island collapsing
		return
	}
	if p.Tripped != "" {
		st.enter(PhaseBlackout, m.At, "relay tripped on the island ("+p.Tripped+"): the battery inverter ceases", ev)
		return
	}
	if !st.Island.Planned && noUtilitySensor(m) {
		waitForOpenTransition(cfg, st, m, dt, ev)
		return
	}
	u, ok := utilityWindow(cfg, m)
	if st.Island.Planned || !ok {
		if st.Island.Phase == PhaseSynchronising {
			st.enter(PhaseIslanded, m.At, "utility left the enter-service window: wait again", ev)
		}
		p.enter.Restart() // set from the configuration when the island formed
		p.EnterWaited = 0
		return
	}
	p.enter, _ = ieee1547.StepEnterService(p.enter, float64(u.Voltage.PU(cfg.NominalVoltage)), float64(u.Frequency), dt)
	p.EnterWaited = p.enter.Waited()
	if st.Island.Phase == PhaseIslanded {
		if !p.enter.Entered() {
			return
		}
		st.enter(PhaseSynchronising, m.At, fmt.Sprintf("utility inside the enter-service window for %v: synchronising", cfg.Protection.EnterService.Delay), ev)
	}
	sync := cfg.Protection.Sync
	first := st.Island.FrequencySet == 0
	st.Island.FrequencySet = u.Frequency + sync.Slip
	st.Island.VoltageSet = u.Voltage
	if first {
		return // the set-points go out first: the windows are checked from the next tick on
	}
	if !m.Voltage.Good() || !m.Frequency.Good() {
		return
	}
	dv := math.Abs(float64(m.Voltage.Value.PU(cfg.NominalVoltage) - u.Voltage.PU(cfg.NominalVoltage)))
	df := math.Abs(float64(m.Frequency.Value - u.Frequency))
	dphi := math.Abs(math.Remainder(u.PhaseDeg, 360))
	if dv <= float64(sync.Voltage) && df <= float64(sync.Frequency) && dphi <= sync.PhaseDeg {
		st.enter(PhaseClosing, m.At, fmt.Sprintf("synchronised: ΔV %.3f p.u., Δf %.3f Hz, Δφ %.1f°: PCC closing", dv, df, dphi), ev)
	}
}

// utilityWindow returns the utility side's measurement and whether it may be entered into: present
// and inside the enter-service window. A site without a utility-side sensor cannot synchronise and
// stays islanded.
func utilityWindow(cfg *Config, m ProtectionSample) (UtilitySide, bool) {
	if !m.GridPresent.Good() || !m.GridPresent.Value || !m.Utility.Good() {
		return UtilitySide{}, false
	}
	u := m.Utility.Value
	return u, cfg.Protection.EnterService.Within(float64(u.Voltage.PU(cfg.NominalVoltage)), float64(u.Frequency))
}

// closing waits for the PCC feedback to show closed, then starts the output ramp. A contactor that
// will not close is a fault: the unit stays islanded and waits for enter-service again.
func closing(cfg *Config, st *State, m ProtectionSample, ev func(string, string)) {
	if !m.PCCClosed.Good() || m.PCCClosed.Value {
		st.Protection.detector.Reset()
		st.Protection.RampFraction = 0
		// The enter-service state ramps from here: the window is held by construction once closed.
		st.Protection.enter = enteredNow(cfg)
		st.enter(PhaseConnected, m.At, "PCC closed: output ramps back over the enter-service ramp", ev)
		return
	}
	pc := &cfg.Protection
	if m.At.Sub(st.Island.Since) >= pc.SwitchTimeout*time.Duration(st.Island.Tries+1) {
		st.Island.Tries++
		st.Island.Redrive = true
		if st.Island.Tries >= pc.SwitchRetries {
			st.Protection.enter = freshEnter(cfg)
			st.enter(PhaseIslanded, m.At, fmt.Sprintf("PCC fault: still open after %d close commands; staying islanded", pc.SwitchRetries), ev)
		}
	}
}

// enteredNow is an enter-service state whose delay is already met, so that stepping it ramps output.
func enteredNow(cfg *Config) ieee1547.EnterServiceState {
	es := cfg.Protection.EnterService
	es.Delay = 0
	e, err := ieee1547.NewEnterServiceValue(es)
	if err != nil {
		return ieee1547.EnterServiceState{}
	}
	e, _ = ieee1547.StepEnterService(e, 1, float64(cfg.NominalFrequency), 0)
	e, _ = ieee1547.StepEnterService(e, 1, float64(cfg.NominalFrequency), 0)
	return e
}

// freshEnter is the enter-service wait from the configuration, nothing waited yet.
func freshEnter(cfg *Config) ieee1547.EnterServiceState {
	e, err := ieee1547.NewEnterServiceValue(cfg.Protection.EnterService)
	if err != nil {
		return ieee1547.EnterServiceState{}
	}
	return e
}
