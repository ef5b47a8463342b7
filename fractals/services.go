package fractals

import (
	"fmt"
	"math"

	"github.com/fractals-energy/fractals/internal/units"
)

// ServiceStep is how far the unit's own services are degraded while islanded, each step a command the
// device layer carries (the Wi-Fi and IGFS drivers), taken before the services' relays are cut.
type ServiceStep int

const (
	// ServiceFull: every service as usual.
	ServiceFull ServiceStep = iota
	// ServiceNoReplication: IGFS replication paused.
	ServiceNoReplication
	// ServiceReadOnly: IGFS serves reads only.
	ServiceReadOnly
	// ServiceClientLimit: the Wi-Fi access point limits its clients.
	ServiceClientLimit
	// ServiceWiFiOff: the Wi-Fi access point is off (the mesh backhaul may stay).
	ServiceWiFiOff
	numServiceSteps
)

var serviceStepNames = [numServiceSteps]string{"full", "igfs_replication_paused", "igfs_read_only", "wifi_client_limit", "wifi_off"}

// String names the step.
func (s ServiceStep) String() string {
	if s >= 0 && s < numServiceSteps {
		return serviceStepNames[s]
	}
	return "unknown"
}

// MarshalText makes steps readable in JSON.
func (s ServiceStep) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// serviceHysteresis is the state of charge above a step's threshold needed to go back up a step, so
// the services do not flap between steps as the battery breathes.
const serviceHysteresis units.Fraction = 0.02

// degradeServices sets the service step. Islanded, the band from the reserve down to the services
// floor is split in four: each band lower is one step more degraded, and below the floor (or with both
// service relays shed) the services are off. Restoration goes in reverse order, one step at a time,
// each needing the hysteresis margin above its threshold. Connected, services run in full.
func degradeServices(p *plan) {
	want := ServiceFull
	if p.next.Mode == Islanded {
		want = p.serviceStepFor(p.s.SoC.Value)
		if p.next.Shed[LoadWiFi] && p.next.Shed[LoadStorage] {
			want = ServiceWiFiOff
		}
	}
	prev := p.prev.Services
	next := want
	if want < prev {
		// Back up one step, and only with the margin.
		next = prev - 1
		if p.next.Mode == Islanded && p.serviceStepFor(p.s.SoC.Value-serviceHysteresis) > next {
			next = prev
		}
		if p.next.Mode == Connected {
			next = want // the utility carries the services again: restore all at once
		}
	}
	if next != prev {
		p.event("service_step", fmt.Sprintf("services %s → %s at SoC %.3f", prev, next, float64(p.s.SoC.Value)))
	}
	p.next.Services = next
}

// serviceStepFor is the step a state of charge calls for while islanded.
func (p *plan) serviceStepFor(soc units.Fraction) ServiceStep {
	top, floor := p.reserveTop(), p.servicesFloor()
	if soc >= top {
		return ServiceFull
	}
	if soc <= floor || top <= floor {
		return ServiceWiFiOff
	}
	band := float64(top-floor) / float64(ServiceWiFiOff)
	step := ServiceStep(math.Ceil(float64(top-soc) / band))
	return min(max(step, ServiceNoReplication), ServiceWiFiOff)
}
