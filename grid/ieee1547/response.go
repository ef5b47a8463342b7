package ieee1547

import (
	"fmt"
	"math"
	"time"
)

// NormalCategory is a normal-performance category of IEEE 1547-2018 (clause 5): the reactive power
// capability and voltage regulation a DER offers.
type NormalCategory int

// Normal-performance categories.
const (
	CategoryA NormalCategory = 1
	CategoryB NormalCategory = 2
)

func (c NormalCategory) String() string {
	switch c {
	case CategoryA:
		return "category A"
	case CategoryB:
		return "category B"
	}
	return fmt.Sprintf("normal category %d", int(c))
}

// reactiveCapability is the minimum reactive power (fraction of nameplate apparent power) a category
// must inject and absorb (IEEE 1547-2018 Table 7).
func reactiveCapability(c NormalCategory) (inject, absorb float64) {
	if c == CategoryA {
		return 0.44, 0.25
	}
	return 0.44, 0.44
}

// VoltVar is the volt-var characteristic (IEEE 1547-2018 clause 5.3.3, Table 8): reactive power as a
// piecewise-linear function of voltage through (V1,Q1)…(V4,Q4), flat beyond the end points. Q is a
// fraction of nameplate apparent power, positive when injecting (capacitive).
type VoltVar struct {
	VRef           float64
	V1, V2, V3, V4 float64
	Q1, Q2, Q3, Q4 float64
	// ResponseTime is the open-loop response time: 90 % of a step change is reached after it.
	ResponseTime time.Duration
}

// DefaultVoltVar returns the default characteristic of the category (Table 8).
func DefaultVoltVar(c NormalCategory) VoltVar {
	if c == CategoryA {
		return VoltVar{VRef: 1, V1: 0.90, V2: 1, V3: 1, V4: 1.10, Q1: 0.25, Q4: -0.25, ResponseTime: 10 * time.Second}
	}
	return VoltVar{VRef: 1, V1: 0.92, V2: 0.98, V3: 1.02, V4: 1.08, Q1: 0.44, Q4: -0.44, ResponseTime: 5 * time.Second}
}

// Validate refuses a characteristic outside the ranges of Table 8.
func (vv VoltVar) Validate(c NormalCategory) error {
	if c != CategoryA && c != CategoryB {
		return fmt.Errorf("ieee1547: normal-performance category %d: accepted 1 (A), 2 (B)", int(c))
	}
	inject, absorb := reactiveCapability(c)
	checks := []bound{
		{"volt-var VRef", vv.VRef, 0.95, 1.05},
		{"volt-var V2", vv.V2, vv.VRef - 0.03, vv.VRef},
		{"volt-var V3", vv.V3, vv.VRef, vv.VRef + 0.03},
		{"volt-var V1", vv.V1, vv.VRef - 0.18, vv.V2 - 0.02},
		{"volt-var V4", vv.V4, vv.V3 + 0.02, vv.VRef + 0.18},
		{"volt-var Q1", vv.Q1, 0, inject},
		{"volt-var Q4", vv.Q4, -absorb, 0},
	}
	if c == CategoryA { // category A has no dead-band reactive power
		checks = append(checks, bound{"volt-var Q2", vv.Q2, 0, 0}, bound{"volt-var Q3", vv.Q3, 0, 0})
	} else {
		checks = append(checks, bound{"volt-var Q2", vv.Q2, -absorb, inject}, bound{"volt-var Q3", vv.Q3, -absorb, inject})
	}
	if err := checkBounds("", checks); err != nil {
		return err
	}
	return durationInRange("volt-var response time", vv.ResponseTime, time.Second, 90*time.Second)
}

// Target returns the reactive power the characteristic asks for at voltage v. A non-finite voltage (a
// failed measurement) has no answer: Target returns NaN, which Lag.Step takes as "hold the output".
func (vv VoltVar) Target(v float64) float64 {
	return piecewise(v, []float64{vv.V1, vv.V2, vv.V3, vv.V4}, []float64{vv.Q1, vv.Q2, vv.Q3, vv.Q4})
}

// VoltWatt is the volt-watt characteristic (clause 5.4.2, Table 10): the active power limit falls from
// P1 at V1 to P2 at V2 (fractions of rated active power).
type VoltWatt struct {
	V1, P1, V2, P2 float64
	ResponseTime   time.Duration
}

// DefaultVoltWatt returns the default characteristic (the same for both categories). P2 is 0.2 of
// rated power for a DER that cannot absorb active power; a storage DER may set down to −1.
func DefaultVoltWatt() VoltWatt {
	return VoltWatt{V1: 1.06, P1: 1, V2: 1.10, P2: 0.2, ResponseTime: 10 * time.Second}
}

// Validate refuses a characteristic outside the ranges of Table 10.
func (vw VoltWatt) Validate() error {
	if err := checkBounds("", []bound{
		{"volt-watt V1", vw.V1, 1.05, 1.09},
		{"volt-watt V2", vw.V2, vw.V1 + 0.02, 1.10},
		{"volt-watt P1", vw.P1, 1, 1},
		{"volt-watt P2", vw.P2, -1, 0.2},
	}); err != nil {
		return err
	}
	return durationInRange("volt-watt response time", vw.ResponseTime, 500*time.Millisecond, 60*time.Second)
}

// Limit returns the active power limit (fraction of rated power) at voltage v; NaN for a non-finite
// voltage (a failed measurement), which Lag.Step takes as "hold the output".
func (vw VoltWatt) Limit(v float64) float64 {
	return piecewise(v, []float64{vw.V1, vw.V2}, []float64{vw.P1, vw.P2})
}

// FrequencyDroop is the frequency-droop (frequency-watt) response of clause 6.5.2.7 (Tables 24, 25):
// outside a dead-band the active power changes by 1/k of rated power per unit of frequency deviation.
type FrequencyDroop struct {
	// Nominal is the system frequency, 50 or 60 Hz; 0 means 60 Hz.
	Nominal      float64
	DbOF, DbUF   float64 // dead-bands, Hz
	KOF, KUF     float64 // droops, per unit (0.05 = 5 %)
	ResponseTime time.Duration
}

// DefaultFrequencyDroop returns the default response on a 60 Hz system: 0.036 Hz dead-band, 5 % droop, 5 s.
func DefaultFrequencyDroop(c Category) FrequencyDroop {
	return DefaultFrequencyDroopAt(c, NominalFrequency)
}

// DefaultFrequencyDroopAt returns the default response at the nominal frequency (50 or 60 Hz): the
// dead-bands scale by nominal/60 (0.030 Hz at 50 Hz); the droops are per unit and do not change.
func DefaultFrequencyDroopAt(_ Category, nominal float64) FrequencyDroop {
	db := scaleHz(0.036, nominal)
	return FrequencyDroop{Nominal: nominal, DbOF: db, DbUF: db, KOF: 0.05, KUF: 0.05, ResponseTime: 5 * time.Second}
}

// Validate refuses settings outside the ranges of the category.
func (fd FrequencyDroop) Validate(c Category) error {
	if err := c.valid(); err != nil {
		return err
	}
	if err := checkNominal(fd.Nominal); err != nil {
		return err
	}
	kMin, tMin := 0.03, time.Second
	if c == CategoryIII {
		kMin, tMin = 0.02, 200*time.Millisecond
	}
	if err := checkBounds(c.String()+" ", []bound{
		{"frequency-droop dbOF", fd.DbOF, scaleHz(0.017, fd.Nominal), scaleHz(1.0, fd.Nominal)},
		{"frequency-droop dbUF", fd.DbUF, scaleHz(0.017, fd.Nominal), scaleHz(1.0, fd.Nominal)},
		{"frequency-droop kOF", fd.KOF, kMin, 0.05},
		{"frequency-droop kUF", fd.KUF, kMin, 0.05},
	}); err != nil {
		return err
	}
	return durationInRange(c.String()+" frequency-droop response time", fd.ResponseTime, tMin, 10*time.Second)
}

// Power returns the active power (fraction of rated) the droop asks for at frequency f, given the
// power before the disturbance, the minimum the DER can go down to and what is available to go up to.
func (fd FrequencyDroop) Power(f, pre, pMin, pAvail float64) float64 {
	nominal := nominalOrDefault(fd.Nominal)
	switch {
	case f > nominal+fd.DbOF:
		p := pre - (f-(nominal+fd.DbOF))/(nominal*fd.KOF)
		return math.Max(p, pMin)
	case f < nominal-fd.DbUF:
		p := pre + ((nominal-fd.DbUF)-f)/(nominal*fd.KUF)
		return math.Min(p, pAvail)
	}
	return pre
}

// Lag is the first-order response that meets an open-loop response time: 90 % of a step is reached
// after ResponseTime, so its time constant is ResponseTime / ln 10.
type Lag struct {
	ResponseTime time.Duration
	Value        float64
}

// Step moves the output towards target over dt and returns it. The exact exponential update keeps it
// stable for any tick. A non-finite target (from a failed measurement) is not followed: the output holds
// its value, so one bad sample cannot poison the response for good. A non-finite output (set by the
// caller) jumps to the first finite target. A negative dt counts as 0.
func (l *Lag) Step(target float64, dt time.Duration) float64 {
	if !finite(target) {
		return l.Value
	}
	if l.ResponseTime <= 0 || !finite(l.Value) {
		l.Value = target
		return target
	}
	dt = max(dt, 0)
	tau := l.ResponseTime.Seconds() / math.Ln10
	l.Value = target + (l.Value-target)*math.Exp(-dt.Seconds()/tau)
	return l.Value
}

// piecewise interpolates linearly through the points, flat beyond the first and last; NaN for a
// non-finite x (a NaN compares false everywhere and would otherwise land on the last point).
func piecewise(x float64, xs, ys []float64) float64 {
	if !finite(x) {
		return math.NaN()
	}
	if x <= xs[0] {
		return ys[0]
	}
	for i := 1; i < len(xs); i++ {
		if x <= xs[i] {
			if xs[i] == xs[i-1] {
				return ys[i]
			}
			return ys[i-1] + (ys[i]-ys[i-1])*(x-xs[i-1])/(xs[i]-xs[i-1])
		}
	}
	return ys[len(ys)-1]
}

// bound is a setting and the range the standard allows for it.
type bound struct {
	name      string
	x, lo, hi float64
}

func checkBounds(prefix string, bs []bound) error {
	for _, b := range bs {
		if err := inRange(prefix+b.name, b.x, b.lo, b.hi); err != nil {
			return err
		}
	}
	return nil
}

func inRange(name string, x, lo, hi float64) error {
	const eps = 1e-12 // lets computed bounds such as VRef − 0.03 accept their own end points
	if math.IsNaN(x) || x < lo-eps || x > hi+eps {
		return fmt.Errorf("ieee1547: %s %g outside the allowed %g to %g", name, x, lo, hi)
	}
	return nil
}

func durationInRange(name string, d, lo, hi time.Duration) error {
	if d < lo || d > hi {
		return fmt.Errorf("ieee1547: %s %v outside the allowed %v to %v", name, d, lo, hi)
	}
	return nil
}
