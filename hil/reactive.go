package hil

import (
	"math"

	"github.com/fractals-energy/fractals/internal/units"
)

// SetReactivePower records the PV inverter's reactive power set-point (positive injecting). The
// plant does not yet model its effect on the PCC voltage; the rig and scenarios read it back.
func (p *Plant) SetReactivePower(q units.VoltAmperesReactive) {
	if math.IsNaN(float64(q)) || math.IsInf(float64(q), 0) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reactive = q
}

// ReactivePower is the PV inverter's reactive power set-point last received.
func (p *Plant) ReactivePower() units.VoltAmperesReactive {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reactive
}
