package fractals

import (
	"fmt"
	"time"

	"github.com/fractals-energy/fractals/grid/ieee1547"
)

// A site whose meter does not sense the utility side of the PCC (no der.UtilitySensor, or one that
// says der.ErrNoUtilitySensor) has nothing to synchronise on. It reconnects by an open transition:
// the utility's presence input (the breaker status) holds for the enter-service delay, the
// grid-forming inverter and every DER cease, the PCC closes onto the dead island bus, and once the
// meter (now on the utility) reads voltage and frequency inside the enter-service window output
// ramps back as after any reconnection. The loads are dark for about openTransitionDeadTime.

// noUtilitySensor is true when the utility side has never been read: the site has no sensor for it.
func noUtilitySensor(m ProtectionSample) bool {
	return m.Utility.Quality == Missing && m.Utility.At.IsZero()
}

// waitForOpenTransition counts the enter-service delay on the presence input alone (the island's
// meter cannot see the utility's voltage and frequency; they are checked once the PCC is closed).
func waitForOpenTransition(cfg *Config, st *State, m ProtectionSample, dt time.Duration, ev func(string, string)) {
	p := &st.Protection
	if !m.GridPresent.Good() || !m.GridPresent.Value {
		p.enter.Restart()
		p.EnterWaited = 0
		return
	}
	p.enter, _ = ieee1547.StepEnterService(p.enter, 1, float64(cfg.NominalFrequency), dt)
	p.EnterWaited = p.enter.Waited()
	if p.enter.Entered() {
		st.enter(PhaseOpenCease, m.At, fmt.Sprintf("utility present for %v, no utility-side sensor: open transition, the island ceases",
			cfg.Protection.EnterService.Delay), ev)
	}
}

// openTransition steps the two phases of the open transition.
func openTransition(cfg *Config, st *State, m ProtectionSample, ev func(string, string)) {
	if !m.GridPresent.Good() || !m.GridPresent.Value {
		st.Protection.enter = freshEnter(cfg)
		st.enter(PhaseOpening, m.At, "utility lost during the open transition: PCC open, the battery forms the grid again", ev)
		return
	}
	if st.Island.Phase == PhaseOpenCease {
		if m.At.Sub(st.Island.Since) >= openTransitionDeadTime {
			st.enter(PhaseOpenClose, m.At, fmt.Sprintf("island dark for %v: PCC closing onto the utility", openTransitionDeadTime), ev)
		}
		return
	}
	pc := &cfg.Protection
	closed := !m.PCCClosed.Good() || m.PCCClosed.Value
	if closed && m.Voltage.Good() && m.Frequency.Good() {
		v, f := float64(m.Voltage.Value.PU(cfg.NominalVoltage)), float64(m.Frequency.Value)
		if pc.EnterService.Within(v, f) {
			closing(cfg, st, m, ev) // connected, output ramps
			return
		}
	}
	if m.At.Sub(st.Island.Since) < pc.SwitchTimeout*time.Duration(st.Island.Tries+1) {
		return
	}
	st.Island.Tries++
	st.Island.Redrive = true
	if st.Island.Tries >= pc.SwitchRetries {
		st.Protection.enter = freshEnter(cfg)
		why := fmt.Sprintf("PCC fault: still open after %d close commands", pc.SwitchRetries)
		if closed {
			why = "the meter reads the utility outside the enter-service window after closing"
		}
		st.enter(PhaseOpening, m.At, why+": open again, the battery forms the grid", ev)
	}
}
