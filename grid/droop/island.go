package droop

import (
	"fmt"
	"math"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// Unit is a grid-forming inverter.
type Unit struct {
	Name   string
	Rating units.Watts // apparent power rating, also the base of its droops
	// FreqDroop is the frequency change, as a fraction of nominal, that moves the unit's active power
	// by its full rating (0.05: 5 % droop, 2.5 Hz on 50 Hz or 3 Hz on 60 Hz per rated power). The model
	// works in per unit of Island.Nominal, so it holds for 50 and 60 Hz islands alike.
	FreqDroop float64
	// VoltDroop is the voltage change, as a fraction of nominal, that moves its reactive power by its
	// full rating.
	VoltDroop float64
	// P0 and Q0 (var) are the set-points at nominal frequency and voltage.
	P0 units.Watts
	Q0 float64
	// PMin and PMax bound the active power (PMax 0 means the rating).
	PMin, PMax units.Watts
	// Response is the time constant of the unit's power response (measurement filter and inner loops).
	Response time.Duration
}

// Island is the microgrid: its units, its aggregate dynamics and its load.
type Island struct {
	Nominal units.Hertz
	// Inertia is the aggregate inertia constant H (seconds) on the base of the summed unit ratings: the
	// stored (or emulated) kinetic energy in seconds of rated power.
	Inertia float64
	// Damping D is the per-unit change of load power per per-unit change of frequency (motor loads
	// slowing down draw less), on the same base.
	Damping float64
	// VoltageTime is the time constant of the island's voltage in response to a reactive imbalance.
	VoltageTime time.Duration
	Units       []Unit
	LoadP       units.Watts
	LoadQ       float64 // var
}

// Limits on what the model accepts: beyond them the numbers mean nothing physical for a microgrid, and
// would only overflow or take unbounded time to integrate.
const (
	// MaxRating is the largest unit rating accepted (1 GW).
	MaxRating units.Watts = 1e9
	// MaxLoadRatio bounds the load (active and reactive) at that many times the island's summed ratings.
	MaxLoadRatio = 10
	// MaxAdvance is the longest AdvanceTo integrates in one call: it takes up to 4000 integration steps per
	// simulated second per call (about 0.2 ms of CPU per simulated second for two units), so a call is
	// bounded to about 2.4 million steps. Go further in several calls.
	MaxAdvance = 10 * time.Minute
)

// Validate refuses a model that cannot be simulated: out-of-range constants, non-finite or unbounded
// ratings, set-points, limits and loads.
func (is Island) Validate() error {
	switch {
	case !(is.Nominal > 0 && is.Nominal <= 1000):
		return fmt.Errorf("droop: nominal frequency %v outside the allowed (0, 1000] Hz", is.Nominal)
	case !(is.Inertia >= 0.01 && is.Inertia <= 20):
		return fmt.Errorf("droop: inertia constant %g s outside the allowed 0.01 to 20 s", is.Inertia)
	case !(is.Damping >= 0 && is.Damping <= 100):
		return fmt.Errorf("droop: damping %g p.u. outside the allowed 0 to 100", is.Damping)
	case is.VoltageTime < time.Millisecond || is.VoltageTime > 10*time.Second:
		return fmt.Errorf("droop: voltage time constant %v outside the allowed 1ms to 10s", is.VoltageTime)
	case len(is.Units) == 0:
		return fmt.Errorf("droop: an island needs at least one grid-forming unit")
	}
	base := 0.0
	for i, u := range is.Units {
		if err := u.validate(); err != nil {
			return fmt.Errorf("droop: unit %d (%s): %w", i, u.Name, err)
		}
		base += float64(u.Rating)
	}
	return checkLoad(is.LoadP, is.LoadQ, base)
}

// checkLoad refuses a non-finite load or one beyond MaxLoadRatio times the summed ratings base.
func checkLoad(p units.Watts, q, base float64) error {
	limit := MaxLoadRatio * base
	if !(math.Abs(float64(p)) <= limit) {
		return fmt.Errorf("droop: active load %v W outside the allowed ±%g W (%d times the island's ratings)", float64(p), limit, MaxLoadRatio)
	}
	if !(math.Abs(q) <= limit) {
		return fmt.Errorf("droop: reactive load %v var outside the allowed ±%g var (%d times the island's ratings)", q, limit, MaxLoadRatio)
	}
	return nil
}

func (u Unit) validate() error {
	r := float64(u.Rating)
	if !(u.Rating > 0 && u.Rating <= MaxRating) {
		return fmt.Errorf("rating %v W outside the allowed (0, %g] W", r, float64(MaxRating))
	}
	for _, x := range []struct {
		name string
		v    float64
	}{{"P0", float64(u.P0)}, {"Q0", u.Q0}, {"PMin", float64(u.PMin)}, {"PMax", float64(u.PMax)}} {
		if !(math.Abs(x.v) <= r) {
			return fmt.Errorf("%s %v outside the allowed ±%g (its rating)", x.name, x.v, r)
		}
	}
	return u.validateDynamics()
}

func (u Unit) validateDynamics() error {
	switch {
	case !(u.FreqDroop >= 0.001 && u.FreqDroop <= 0.2):
		return fmt.Errorf("frequency droop %g outside the allowed 0.001 to 0.2", u.FreqDroop)
	case !(u.VoltDroop >= 0.001 && u.VoltDroop <= 0.2):
		return fmt.Errorf("voltage droop %g outside the allowed 0.001 to 0.2", u.VoltDroop)
	case u.Response < time.Millisecond || u.Response > 10*time.Second:
		return fmt.Errorf("response time constant %v outside the allowed 1ms to 10s", u.Response)
	case u.PMax != 0 && u.PMax < u.PMin:
		return fmt.Errorf("PMax %v below PMin %v", u.PMax, u.PMin)
	}
	return nil
}

// State is the island at one instant.
type State struct {
	At time.Time
	F  units.Hertz
	V  units.PerUnit
	P  []units.Watts // active power of each unit
	Q  []float64     // reactive power of each unit, var
}

// Sim integrates an island over time.
type Sim struct {
	is   Island
	h    time.Duration // integration step (stepFor)
	base float64       // summed ratings, W
	now  time.Time
	// state in per unit of base: frequency, voltage, and each unit's P and Q
	x []float64
	// Runge-Kutta work space
	k   [4][]float64
	tmp []float64
}

// integrationStep is the fixed step of the fourth-order Runge-Kutta integration: well below the
// fastest time constant allowed (1 ms) divided by the stability limit of RK4 (about 2.8).
const integrationStep = 250 * time.Microsecond

// maxIntegrationStep bounds the step an island with slow dynamics may take.
const maxIntegrationStep = 5 * time.Millisecond

// stepFor is the integration step for an island: a sixteenth of its fastest time constant (a unit's
// response, the voltage's, or the swing equation's 2H·droop), never below integrationStep nor above
// maxIntegrationStep, so slow islands (community feeders over hours) cost a fraction of fast ones.
func stepFor(is Island) time.Duration {
	fastest := is.VoltageTime.Seconds()
	for _, u := range is.Units {
		fastest = math.Min(fastest, math.Min(u.Response.Seconds(), 2*is.Inertia*u.FreqDroop))
	}
	h := time.Duration(fastest / 16 * float64(time.Second))
	return max(integrationStep, min(h, maxIntegrationStep))
}

// New starts a simulation at time start, with every unit at its set-point response to the initial load
// (the steady state the droop laws give for it).
func New(is Island, start time.Time) (*Sim, error) {
	if err := is.Validate(); err != nil {
		return nil, err
	}
	s := &Sim{is: is, now: start, h: stepFor(is)}
	for _, u := range is.Units {
		s.base += float64(u.Rating)
	}
	n := len(is.Units)
	s.x = make([]float64, 2+2*n)
	for j := range s.k {
		s.k[j] = make([]float64, len(s.x))
	}
	s.tmp = make([]float64, len(s.x))
	f, v := s.steadyState()
	s.x[0], s.x[1] = f, v
	for i := range is.Units {
		s.x[2+i] = s.pTarget(i, f)
		s.x[2+n+i] = s.qTarget(i, v)
	}
	return s, nil
}

// SetLoad changes the load from now on (a step). A non-finite load, or one beyond MaxLoadRatio times
// the island's ratings, is refused and changes nothing.
func (s *Sim) SetLoad(p units.Watts, q float64) error {
	if err := checkLoad(p, q, s.base); err != nil {
		return err
	}
	s.is.LoadP, s.is.LoadQ = p, q
	return nil
}

// Now returns the time the simulation has reached.
func (s *Sim) Now() time.Time { return s.now }

// AdvanceTo integrates up to t (taken from the caller's clock) and returns the state there. Its cost is
// proportional to the time advanced (200 to 4000 steps per simulated second, see stepFor), so a time before the present,
// or more than MaxAdvance ahead of it, is refused and changes nothing.
func (s *Sim) AdvanceTo(t time.Time) (State, error) {
	if t.Before(s.now) {
		return State{}, fmt.Errorf("droop: cannot go back from %v to %v", s.now, t)
	}
	if d := t.Sub(s.now); d > MaxAdvance {
		return State{}, fmt.Errorf("droop: advancing %v at once exceeds the %v limit (%d integration steps); advance in smaller steps", d, MaxAdvance, MaxAdvance/integrationStep)
	}
	for s.now.Before(t) {
		h := s.h
		if rest := t.Sub(s.now); rest < h {
			h = rest
		}
		s.rk4(h.Seconds())
		s.now = s.now.Add(h)
	}
	return s.State(), nil
}

// State returns the present state.
func (s *Sim) State() State {
	n := len(s.is.Units)
	st := State{At: s.now, F: units.Hertz(s.x[0] * float64(s.is.Nominal)), V: units.PerUnit(s.x[1]),
		P: make([]units.Watts, n), Q: make([]float64, n)}
	for i := 0; i < n; i++ {
		st.P[i] = units.Watts(s.x[2+i] * s.base)
		st.Q[i] = s.x[2+n+i] * s.base
	}
	return st
}

// SteadyState returns where the droop laws settle for the present load (ignoring power limits): the
// frequency f = f0·(1 − (P_load − ΣP0) / (Σ rating_i/droop_i + D·base)) and the voltage
// V = 1 − (Q_load − ΣQ0) / Σ rating_i/vdroop_i.
func (s *Sim) SteadyState() (units.Hertz, units.PerUnit) {
	f, v := s.steadyState()
	return units.Hertz(f * float64(s.is.Nominal)), units.PerUnit(v)
}

func (s *Sim) steadyState() (f, v float64) {
	var p0, q0, kp, kq float64
	for _, u := range s.is.Units {
		p0 += float64(u.P0) / s.base
		q0 += u.Q0 / s.base
		kp += float64(u.Rating) / s.base / u.FreqDroop
		kq += float64(u.Rating) / s.base / u.VoltDroop
	}
	f = 1 - (float64(s.is.LoadP)/s.base-p0)/(kp+s.is.Damping)
	v = 1 - (s.is.LoadQ/s.base-q0)/kq
	return f, v
}

// pTarget is unit i's active power (p.u.) by its P–f droop at per-unit frequency f, within its limits.
func (s *Sim) pTarget(i int, f float64) float64 {
	u := s.is.Units[i]
	r := float64(u.Rating) / s.base
	p := float64(u.P0)/s.base + r*(1-f)/u.FreqDroop
	hi := float64(u.PMax)
	if hi == 0 {
		hi = float64(u.Rating)
	}
	return math.Min(math.Max(p, float64(u.PMin)/s.base), hi/s.base)
}

// qTarget is unit i's reactive power (p.u.) by its Q–V droop at per-unit voltage v.
func (s *Sim) qTarget(i int, v float64) float64 {
	u := s.is.Units[i]
	return u.Q0/s.base + float64(u.Rating)/s.base*(1-v)/u.VoltDroop
}

// derivative evaluates the island's equations:
//
//	2H·df/dt = ΣP_i − P_load − D·(f − 1)
//	T_v·dV/dt = ΣQ_i − Q_load
//	τ_i·dP_i/dt = P_i,droop(f) − P_i,   τ_i·dQ_i/dt = Q_i,droop(V) − Q_i
func (s *Sim) derivative(x, dx []float64) {
	n := len(s.is.Units)
	f, v := x[0], x[1]
	var sumP, sumQ float64
	for i, u := range s.is.Units {
		tau := u.Response.Seconds()
		p, q := x[2+i], x[2+n+i]
		sumP += p
		sumQ += q
		dx[2+i] = (s.pTarget(i, f) - p) / tau
		dx[2+n+i] = (s.qTarget(i, v) - q) / tau
	}
	dx[0] = (sumP - float64(s.is.LoadP)/s.base - s.is.Damping*(f-1)) / (2 * s.is.Inertia)
	dx[1] = (sumQ - s.is.LoadQ/s.base) / s.is.VoltageTime.Seconds()
}

func (s *Sim) rk4(h float64) {
	k, tmp := s.k, s.tmp
	s.derivative(s.x, k[0])
	for stage, c := range []float64{0.5, 0.5, 1} {
		for j := range tmp {
			tmp[j] = s.x[j] + c*h*k[stage][j]
		}
		s.derivative(tmp, k[stage+1])
	}
	for j := range s.x {
		s.x[j] += h / 6 * (k[0][j] + 2*k[1][j] + 2*k[2][j] + k[3][j])
	}
}
