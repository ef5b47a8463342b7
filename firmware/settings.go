package firmware

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// Settings are the controller settings an operator may change while the unit runs (today the reserve
// state of charge). A change is validated against the controller's whole configuration when it is
// asked for and applied on the control loop's goroutine between two cycles, so a cycle never sees a
// half-made change. Add it to the daemon as an observer.
type Settings struct {
	unit    *Unit
	mu      sync.Mutex
	pending *units.Fraction
	reserve units.Fraction // as applied
}

// NewSettings reads the unit's current settings.
func NewSettings(u *Unit) *Settings {
	return &Settings{unit: u, reserve: u.cfg.Reserve}
}

// SetReserve asks for a new reserve SoC in percent. It is refused (with the accepted range) when the
// controller's configuration would not validate with it.
func (s *Settings) SetReserve(percent float64) error {
	if math.IsNaN(percent) || math.IsInf(percent, 0) {
		return fmt.Errorf("reserve_soc: %v is not a number", percent)
	}
	f := units.Fraction(percent / 100)
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := s.unit.cfg // written only in Observe below, under s.mu, on the loop goroutine
	cfg.Reserve = f
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("reserve_soc %.1f %%: %w (BMS limits %.0f..%.0f %%, services floor %.1f %%)", percent, err,
			float64(cfg.SoCMin)*100, float64(cfg.SoCMax)*100, float64(cfg.ServicesFloor)*100)
	}
	s.pending = &f
	return nil
}

// Reserve is the reserve SoC in force, in percent.
func (s *Settings) Reserve() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(s.reserve) * 100
}

// Observe applies a pending change before the next cycle.
func (s *Settings) Observe(_ *Status, _ time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		return
	}
	s.unit.cfg.Reserve = *s.pending
	s.reserve, s.pending = *s.pending, nil
}
