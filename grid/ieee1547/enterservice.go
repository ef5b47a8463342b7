package ieee1547

import (
	"fmt"
	"time"
)

// EnterService holds the conditions under which a DER may start, or restart after a trip, to energize the
// area electric power system (IEEE 1547-2018 clause 4.10, Table 4): voltage and frequency inside a
// window for a delay, then output ramped up over a ramp time.
type EnterService struct {
	// Nominal is the system frequency, 50 or 60 Hz; 0 means 60 Hz.
	Nominal    float64
	VMin, VMax float64 // p.u.
	FMin, FMax float64 // Hz
	Delay      time.Duration
	Ramp       time.Duration
}

// DefaultEnterService returns the defaults of Table 4 (60 Hz system).
func DefaultEnterService() EnterService { return DefaultEnterServiceAt(NominalFrequency) }

// DefaultEnterServiceAt returns the defaults of Table 4 with the frequency window scaled to the
// nominal frequency (50 or 60 Hz): 49.58 to 50.08 Hz at 50 Hz.
func DefaultEnterServiceAt(nominal float64) EnterService {
	return EnterService{Nominal: nominal, VMin: 0.917, VMax: 1.05, FMin: scaleHz(59.5, nominal), FMax: scaleHz(60.1, nominal),
		Delay: 300 * time.Second, Ramp: 300 * time.Second}
}

// Validate refuses settings outside the ranges of Table 4.
func (e EnterService) Validate() error {
	if err := checkNominal(e.Nominal); err != nil {
		return err
	}
	n := e.Nominal
	if err := checkBounds("enter-service ", []bound{
		{"minimum voltage", e.VMin, 0.88, 0.95},
		{"maximum voltage", e.VMax, 1.05, 1.06},
		{"minimum frequency", e.FMin, scaleHz(59.0, n), scaleHz(59.9, n)},
		{"maximum frequency", e.FMax, scaleHz(60.1, n), scaleHz(61.0, n)},
	}); err != nil {
		return err
	}
	if err := durationInRange("enter-service delay", e.Delay, 0, 600*time.Second); err != nil {
		return err
	}
	return durationInRange("enter-service ramp", e.Ramp, time.Second, 1000*time.Second)
}

// Within reports whether a voltage and frequency lie in the enter-service window.
func (e EnterService) Within(v, f float64) bool {
	return v >= e.VMin && v <= e.VMax && f >= e.FMin && f <= e.FMax
}

// EnterServiceState tracks a DER waiting to enter service: the window must hold continuously for the
// delay, then the permitted output rises linearly from 0 to 1 over the ramp. Leaving the window before
// the delay has passed starts the wait again.
type EnterServiceState struct {
	settings EnterService
	waited   time.Duration
	ramped   time.Duration
	inWindow bool
	entered  bool
}

// NewEnterService starts waiting to enter service.
func NewEnterService(s EnterService) (*EnterServiceState, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &EnterServiceState{settings: s}, nil
}

// Step takes one measurement and the time since the previous one, and returns the fraction of rated
// output the DER may deliver now (0 while waiting; the ramp starts from 0 when the delay is met).
func (e *EnterServiceState) Step(v, f float64, dt time.Duration) float64 {
	if dt < 0 {
		dt = 0
	}
	if e.entered {
		e.ramped += dt
		return e.Permitted()
	}
	if !e.settings.Within(v, f) {
		e.waited, e.inWindow = 0, false
		return 0
	}
	if e.inWindow {
		e.waited += dt
	}
	e.inWindow = true
	e.entered = e.waited >= e.settings.Delay
	return 0
}

// Permitted returns the output fraction allowed by the ramp so far.
func (e *EnterServiceState) Permitted() float64 {
	if !e.entered {
		return 0
	}
	if e.ramped >= e.settings.Ramp {
		return 1
	}
	return float64(e.ramped) / float64(e.settings.Ramp)
}

// Entered reports whether the delay has been met (the DER is energizing, possibly still ramping).
func (e *EnterServiceState) Entered() bool { return e.entered }

func (e *EnterServiceState) String() string {
	return fmt.Sprintf("enter service: waited %v of %v, ramp %.0f %%", e.waited, e.settings.Delay, 100*e.Permitted())
}
