package ieee1547

import (
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// Settings configure a Relay: the category, its trip settings and the protection tick.
type Settings struct {
	Category  Category
	Voltage   VoltageTrip
	Frequency FrequencyTrip
	Tick      time.Duration
	// Nominal is the system frequency, 50 or 60 Hz; 0 means 60 Hz (the standard's tables). The
	// frequency trip settings must be given for it (DefaultSettingsAt scales the defaults), and the
	// frequency ride-through regions are scaled to it.
	Nominal float64
	// CeaseInPermissive makes the DER cease to energize in permissive-operation regions; by default it
	// keeps exchanging current there, which supports the grid and is what mandatory regions require.
	CeaseInPermissive bool
}

// DefaultSettings returns the default trip settings of the category on a 60 Hz system and a 100 ms tick.
func DefaultSettings(c Category) Settings { return DefaultSettingsAt(c, NominalFrequency) }

// DefaultSettingsAt returns the default trip settings of the category for a system of the given nominal
// frequency (Nominal50Hz or Nominal60Hz): the frequency levels are Table 19's scaled by nominal/60.
func DefaultSettingsAt(c Category, nominal float64) Settings {
	return Settings{Category: c, Voltage: DefaultVoltageTrip(c), Frequency: DefaultFrequencyTripAt(nominal), Tick: DefaultTick, Nominal: nominal}
}

// WidestSettingsAt returns the least sensitive settings the category allows at the nominal frequency
// (the settings IEEE 1547.1 ride-through tests use), with the given tick.
func WidestSettingsAt(c Category, nominal float64, tick time.Duration) Settings {
	return Settings{Category: c, Voltage: WidestVoltageTrip(c), Frequency: WidestFrequencyTripAt(nominal), Tick: tick, Nominal: nominal}
}

// Validate refuses settings outside the ranges of the standard.
func (s Settings) Validate() error {
	if err := s.Category.valid(); err != nil {
		return err
	}
	if err := s.Voltage.Validate(s.Category); err != nil {
		return err
	}
	if err := s.Frequency.ValidateAt(s.Nominal); err != nil {
		return err
	}
	return CheckTick(s.Tick)
}

// Sample is one measurement at the point of DER connection: the applicable voltage (the phase furthest
// from nominal) and the frequency.
type Sample struct {
	V units.PerUnit
	F units.Hertz
}

// Decision is what the relay demands after a sample.
type Decision struct {
	// Trip is latched once a trip function reaches its clearing time: cease to energize and open the
	// DER's interrupting device until Reset (after the enter-service conditions).
	Trip bool
	// Function names the trip function that tripped ("UV1", "OF2", ...).
	Function string
	// Energize says whether the DER should exchange current now: false when tripped, after a failed
	// measurement, in a momentary-cessation region (also past its minimum time, when VoltageMode already
	// reads NoRideThrough), in a voltage table's cease-to-energize zone (above 1.20 p.u., below the
	// lowest region), or in a permissive region with CeaseInPermissive set.
	Energize bool
	// VoltageMode and FrequencyMode are the ride-through modes the present disturbance demands (during a
	// measurement failure, the mode of the last valid sample).
	VoltageMode, FrequencyMode Mode
	// MeasurementFailure is set when the sample's voltage or frequency is not a finite number. The DER
	// then ceases to energize (it cannot know it is inside its ride-through and trip limits); trip timers
	// already running go on counting, so a failing meter can delay no trip.
	MeasurementFailure bool
}

// Relay is the DER's interconnection protection: the eight trip functions and the ride-through state.
// It is a pure state machine stepped once per protection tick.
type Relay struct {
	settings Settings
	voltage  [4]tripTimer
	freq     [4]tripTimer
	vrt, frt rideThrough
	tripped  string
}

// NewRelay builds a relay after checking its settings.
func NewRelay(s Settings) (*Relay, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	r := &Relay{settings: s}
	v, f := s.Voltage, s.Frequency
	for i, set := range []TripSetting{v.OV2, v.OV1, v.UV1, v.UV2} {
		r.voltage[i] = tripTimer{name: voltageNames[i], setting: set, over: i < 2}
	}
	for i, set := range []TripSetting{f.OF2, f.OF1, f.UF1, f.UF2} {
		r.freq[i] = tripTimer{name: frequencyNames[i], setting: set, over: i < 2}
	}
	r.vrt.table = voltageRideThrough[s.Category]
	r.frt.table = frequencyRideThroughAt(s.Nominal)
	return r, nil
}

// Step takes one sample and the time since the previous one (normally the tick).
func (r *Relay) Step(m Sample, dt time.Duration) Decision {
	if dt < 0 {
		dt = 0
	}
	v, f := float64(m.V), float64(m.F)
	d := Decision{VoltageMode: r.vrt.step(v, dt), FrequencyMode: r.frt.step(f, dt)}
	for i := range r.voltage {
		if r.voltage[i].step(v, dt) && r.tripped == "" {
			r.tripped = r.voltage[i].name
		}
	}
	for i := range r.freq {
		if r.freq[i].step(f, dt) && r.tripped == "" {
			r.tripped = r.freq[i].name
		}
	}
	d.Trip, d.Function = r.tripped != "", r.tripped
	d.MeasurementFailure = !finite(v) || !finite(f)
	d.Energize = !d.Trip && !d.MeasurementFailure && !r.vrt.cease && !r.frt.cease && d.VoltageMode != MomentaryCessation && d.FrequencyMode != MomentaryCessation &&
		!(r.settings.CeaseInPermissive && (d.VoltageMode == Permissive || d.FrequencyMode == Permissive))
	return d
}

// Tripped reports whether a trip is latched, and which function tripped.
func (r *Relay) Tripped() (bool, string) { return r.tripped != "", r.tripped }

// Reset clears a latched trip and all timers; call it when the enter-service conditions are met.
func (r *Relay) Reset() {
	for i := range r.voltage {
		r.voltage[i].timing, r.voltage[i].elapsed = false, 0
		r.freq[i].timing, r.freq[i].elapsed = false, 0
	}
	r.vrt = rideThrough{table: r.vrt.table}
	r.frt = rideThrough{table: r.frt.table}
	r.tripped = ""
}
