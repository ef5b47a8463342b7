package fractals

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fractals-energy/fractals/grid/ieee1547"
	"github.com/fractals-energy/fractals/grid/islanding"
	"github.com/fractals-energy/fractals/internal/units"
)

// SyncWindow is how close the island must be to the utility before the PCC may close (IEEE 1547-2018
// Table 5 for DER up to 500 kVA: 0.3 Hz, 10 % voltage, 20 degrees). Slip is the frequency offset the
// grid-forming inverter is asked to hold above the utility, so the phase difference rotates slowly
// through the window instead of standing still outside it.
type SyncWindow struct {
	Voltage   units.PerUnit
	Frequency units.Hertz
	PhaseDeg  float64
	Slip      units.Hertz
}

// ProtectionConfig configures the protection tick: the DER's IEEE 1547 relay, the island detector at
// the PCC, the enter-service conditions for reconnection and the synchronisation window.
type ProtectionConfig struct {
	Tick         time.Duration // how often the firmware steps protection between control cycles
	Relay        ieee1547.Settings
	Detector     islanding.Settings
	EnterService ieee1547.EnterService
	Sync         SyncWindow
	// SwitchTimeout is how long a relay or contactor may take to show the commanded state on its
	// feedback before it is re-driven; after SwitchRetries re-drives it is a fault.
	SwitchTimeout time.Duration
	SwitchRetries int
	// BlackStartDelay is how long a unit whose island collapsed (its relay tripped) stays dark before
	// the battery inverter forms the grid again.
	BlackStartDelay time.Duration
	// FrequencyShift turns the PV inverter's active anti-islanding (Sandia frequency shift) on while
	// connected: the passive detector alone cannot see an island whose load matches the unit's export.
	FrequencyShift bool
}

// DefaultProtectionConfig is category II on a system of the given nominal frequency, the 100 ms tick,
// and enter-service after delay.
func DefaultProtectionConfig(nominal units.Hertz, delay time.Duration) ProtectionConfig {
	es := ieee1547.DefaultEnterServiceAt(float64(nominal))
	es.Delay = delay
	return ProtectionConfig{
		Tick:          ieee1547.DefaultTick,
		Relay:         ieee1547.DefaultSettingsAt(ieee1547.CategoryII, float64(nominal)),
		Detector:      islanding.DefaultSettingsAt(nominal),
		EnterService:  es,
		Sync:          SyncWindow{Voltage: 0.05, Frequency: 0.3, PhaseDeg: 20, Slip: 0.1},
		SwitchTimeout: time.Second, SwitchRetries: 3, BlackStartDelay: 5 * time.Second,
		FrequencyShift: true,
	}
}

// Validate refuses protection settings outside IEEE 1547-2018's ranges and their own.
func (p ProtectionConfig) Validate() error {
	var errs []error
	if err := ieee1547.CheckTick(p.Tick); err != nil {
		errs = append(errs, fmt.Errorf("protection tick: %w", err))
	}
	if err := p.Relay.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("protection relay: %w", err))
	}
	if err := p.Detector.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("protection detector: %w", err))
	}
	if err := p.EnterService.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("protection enter service: %w", err))
	}
	s := p.Sync
	if !(s.Voltage > 0 && s.Voltage <= 0.1 && s.Frequency > 0 && s.Frequency <= 0.3 && s.PhaseDeg > 0 && s.PhaseDeg <= 20 && s.Slip > 0 && s.Slip < s.Frequency) {
		errs = append(errs, fmt.Errorf("protection sync window %+v: voltage (0, 0.1] p.u., frequency (0, 0.3] Hz, phase (0, 20] degrees, slip (0, frequency)", s))
	}
	if p.SwitchTimeout <= 0 || p.SwitchRetries < 1 || p.SwitchRetries > 10 {
		errs = append(errs, fmt.Errorf("protection: switch_timeout %v must be positive and switch_retries %d in [1, 10]", p.SwitchTimeout, p.SwitchRetries))
	}
	if p.BlackStartDelay < 0 || p.BlackStartDelay > 10*time.Minute {
		errs = append(errs, fmt.Errorf("protection: black_start_delay %v out of range [0, 10m]", p.BlackStartDelay))
	}
	return errors.Join(errs...)
}

// ProtectionSample is the freshest measurement a protection tick acts on: the PCC meter on the unit's
// side (what the DER's relay sees), the breaker's status input, the PCC contactor's feedback and, where
// the site has it, the utility side of the PCC (for enter-service and synchronisation).
type ProtectionSample struct {
	At        time.Time
	Voltage   Reading[units.Volts]
	Frequency Reading[units.Hertz]
	PhaseDeg  float64 // the unit side's phase against a reference at nominal frequency (vector shift)
	// PhaseKnown says PhaseDeg was measured (a PLL). Without it Protect integrates the phase from the
	// frequency, so vector shift cannot fire (it needs a real phase jump) and no false one is seen.
	PhaseKnown bool
	// GridPresent is the breaker status input: the utility side is energised.
	GridPresent Reading[bool]
	PCCClosed   Reading[bool]
	Utility     Reading[UtilitySide]
}

// UtilitySide is the utility's voltage and frequency on the far side of an open PCC, and its phase
// minus the island's.
type UtilitySide struct {
	Voltage   units.Volts `json:"voltage"`
	Frequency units.Hertz `json:"frequency"`
	PhaseDeg  float64     `json:"phase_deg"`
}

// SampleOf takes the protection sample out of a snapshot: the control cycle is a protection tick too.
func SampleOf(s *Snapshot) ProtectionSample {
	return ProtectionSample{At: s.At, Voltage: s.GridVoltage, Frequency: s.GridFrequency, GridPresent: s.GridPresent,
		PCCClosed: s.PCCClosed, Utility: s.Utility}
}

// Protection is the state of the protection tick: the DER's relay, the PCC's island detector and the
// enter-service wait, each a value-typed state machine from grid/, and the last decision.
type Protection struct {
	Ready        bool          `json:"ready"`
	LastAt       time.Time     `json:"last_at"`
	Energize     bool          `json:"energize"`       // the relay lets the DER exchange current
	Tripped      string        `json:"tripped"`        // the trip function latched, "" when none
	VoltageMode  string        `json:"voltage_mode"`   // ride-through mode the voltage demands
	Frequency    string        `json:"frequency_mode"` // ride-through mode the frequency demands
	EnterWaited  time.Duration `json:"enter_service_waited"`
	RampFraction float64       `json:"ramp_fraction"` // output the enter-service ramp permits after reconnection
	phaseDeg     float64       // integrated from the frequency when the sample has no phase
	lastF        units.Hertz   // the detector's previous frequency

	relay    ieee1547.Relay
	detector islanding.Detector
	enter    ieee1547.EnterServiceState
}

// initProtection builds the state machines from the configuration (validated by Config.Validate).
func initProtection(cfg *Config) Protection {
	r, err1 := ieee1547.NewRelayValue(cfg.Protection.Relay)
	d, err2 := islanding.NewDetector(cfg.Protection.Detector)
	e, err3 := ieee1547.NewEnterServiceValue(cfg.Protection.EnterService)
	if err1 != nil || err2 != nil || err3 != nil {
		// Unvalidated settings: keep Ready false so every tick retries, and energize nothing.
		return Protection{}
	}
	return Protection{Ready: true, Energize: true, RampFraction: 1, relay: r, detector: d, enter: e}
}

// Protect runs one protection tick: it steps the relay and the island detector on the freshest
// measurement and moves the island state machine. It is pure; the firmware calls it every
// Protection.Tick between control cycles, and Step calls it with the cycle's own snapshot.
func Protect(cfg *Config, st State, m ProtectionSample) (State, []Event) {
	events := protectTick(cfg, &st, m)
	return st, events
}

// protectTick is Protect in place, so that Step does not copy the state through it.
func protectTick(cfg *Config, st *State, m ProtectionSample) []Event {
	if st.Protection.Ready && !m.At.After(st.Protection.LastAt) {
		return nil // a sample no newer than the last: already acted on
	}
	var events []Event
	ev := func(kind, detail string) { events = append(events, Event{At: m.At, Kind: kind, Detail: detail}) }
	if cfg.Protection.Tick == 0 {
		// Unset: the site's defaults (the firmware fills them in once, in NewUnit).
		c := *cfg
		c.Protection = c.Protecting()
		cfg = &c
	}
	if !st.Protection.Ready {
		st.Protection = initProtection(cfg)
		if !st.Protection.Ready {
			ev("protection_fault", "protection settings refused: the DER ceases to energize")
			return events
		}
		st.Protection.LastAt = m.At
		boot(st, m, ev)
		return events
	}
	dt := m.At.Sub(st.Protection.LastAt)
	st.Protection.LastAt = m.At
	stepRelay(cfg, st, m, dt, ev)
	stepIsland(cfg, st, m, dt, ev)
	st.Mode = st.Island.Phase.mode()
	return events
}

// stepRelay steps the DER's IEEE 1547 relay on the unit side's voltage and frequency. A stale meter
// holds the last decision (a communication hiccup is not a grid event); a missing one is a failed
// measurement, on which the relay has the DER cease to energize.
func stepRelay(cfg *Config, st *State, m ProtectionSample, dt time.Duration, ev func(string, string)) {
	p := &st.Protection
	if m.Voltage.Quality == Stale || m.Frequency.Quality == Stale {
		return
	}
	v, f := math.NaN(), math.NaN()
	if m.Voltage.Good() && m.Frequency.Good() {
		v, f = float64(m.Voltage.Value.PU(cfg.NominalVoltage)), float64(m.Frequency.Value)
	}
	var d ieee1547.Decision
	p.relay, d = ieee1547.Step(p.relay, ieee1547.Sample{V: units.PerUnit(v), F: units.Hertz(f)}, dt)
	if d.Energize != p.Energize {
		if d.Energize {
			ev("energize", "voltage and frequency back inside the ride-through limits")
		} else {
			ev("cease_to_energize", fmt.Sprintf("relay: voltage %s, frequency %s, measurement failure %v", d.VoltageMode, d.FrequencyMode, d.MeasurementFailure))
		}
	}
	if d.Trip && p.Tripped == "" {
		ev("trip", fmt.Sprintf("%s tripped at %.3f p.u., %.3f Hz", d.Function, v, f))
	}
	p.Energize, p.Tripped = d.Energize, d.Function
	p.VoltageMode, p.Frequency = d.VoltageMode.String(), d.FrequencyMode.String()
}

// resetRelay clears a latched trip once the DER may energize again (it formed an island, or entered
// service), with the enter-service state restarted.
func resetRelay(p *Protection) {
	p.relay.Reset()
	p.Tripped, p.Energize = "", true
}
