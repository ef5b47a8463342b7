package fractals

import (
	"math"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// Quality says how far a value can be trusted.
type Quality uint8

const (
	// Missing: never read, or the device has not answered for longer than the stale limit.
	Missing Quality = iota
	// Good: read in this cycle.
	Good
	// Stale: the last read failed; Value is the last good one, read at At.
	Stale
)

var qualityNames = [...]string{"missing", "good", "stale"}

// String names the quality.
func (q Quality) String() string {
	if int(q) < len(qualityNames) {
		return qualityNames[q]
	}
	return "unknown"
}

// MarshalText makes qualities readable in JSON.
func (q Quality) MarshalText() ([]byte, error) { return []byte(q.String()), nil }

// Reading is one value of the process image with its quality and the time it was last read good.
type Reading[T any] struct {
	Value   T         `json:"value"`
	Quality Quality   `json:"quality"`
	At      time.Time `json:"at"`
}

// Good reports whether the value was read in this cycle.
func (r Reading[T]) Good() bool { return r.Quality == Good }

// good makes a Good reading.
func good[T any](v T, at time.Time) Reading[T] { return Reading[T]{Value: v, Quality: Good, At: at} }

// degrade turns the previous reading into this cycle's after a failed read: stale while it is younger
// than limit, missing after.
func degrade[T any](prev Reading[T], now time.Time, limit time.Duration) Reading[T] {
	if prev.Quality == Missing || now.Sub(prev.At) > limit {
		var zero T
		return Reading[T]{Value: zero, Quality: Missing, At: prev.At}
	}
	prev.Quality = Stale
	return prev
}

// LoadKind names a switched load circuit; lower values have higher priority.
type LoadKind int

const (
	// LoadCritical is the household's essential circuit, served first.
	LoadCritical LoadKind = iota
	// LoadWiFi is the unit's own mesh access point.
	LoadWiFi
	// LoadStorage is the unit's IGFS storage node.
	LoadStorage
	// NumLoads is the number of switched load circuits.
	NumLoads
)

var loadKindNames = [NumLoads]string{"critical", "wifi", "storage"}

// String names the load.
func (k LoadKind) String() string {
	if k < 0 || k >= NumLoads {
		return "unknown"
	}
	return loadKindNames[k]
}

// LoadReadings are one switched load's values.
type LoadReadings struct {
	Power  Reading[units.Watts] `json:"power"`
	Demand Reading[units.Watts] `json:"demand"`
	On     Reading[bool]        `json:"on"`
}

// Snapshot is the process image of one cycle: every device read once, immutable afterwards.
type Snapshot struct {
	At time.Time `json:"at"`

	PVPower     Reading[units.Watts] `json:"pv_power"`
	PVAvailable Reading[units.Watts] `json:"pv_available"`
	PVRated     Reading[units.Watts] `json:"pv_rated"`

	BatteryPower Reading[units.Watts]    `json:"battery_power"` // positive charging
	SoC          Reading[units.Fraction] `json:"soc"`
	GridForming  Reading[bool]           `json:"grid_forming"`

	GridPower     Reading[units.Watts] `json:"grid_power"` // positive importing
	GridVoltage   Reading[units.Volts] `json:"grid_voltage"`
	GridFrequency Reading[units.Hertz] `json:"grid_frequency"`
	GridPresent   Reading[bool]        `json:"grid_present"`
	PCCClosed     Reading[bool]        `json:"pcc_closed"`
	// Utility is the far side of the PCC, where the site senses it (for enter-service and
	// synchronisation); missing otherwise.
	Utility Reading[UtilitySide] `json:"utility"`

	Loads [NumLoads]LoadReadings `json:"loads"`

	EVConnected Reading[bool]            `json:"ev_connected"`
	EVPower     Reading[units.Watts]     `json:"ev_power"`
	EVMaxPower  Reading[units.Watts]     `json:"ev_max_power"`
	EVDelivered Reading[units.WattHours] `json:"ev_delivered"`
	EVNeeded    Reading[units.WattHours] `json:"ev_needed"`
	EVDeadline  Reading[time.Time]       `json:"ev_deadline"`
}

// finite downgrades a reading whose value is NaN or infinite to missing: a device that reports a
// non-number has not told us anything.
func finite[T ~float64](r Reading[T]) Reading[T] {
	if v := float64(r.Value); math.IsNaN(v) || math.IsInf(v, 0) {
		return Reading[T]{Quality: Missing, At: r.At}
	}
	return r
}

// sanitized returns a copy of s in which every non-finite number reads as missing, so that no NaN
// from a device can reach a set-point.
func (s *Snapshot) sanitized() Snapshot {
	c := *s
	c.PVPower, c.PVAvailable, c.PVRated = finite(c.PVPower), finite(c.PVAvailable), finite(c.PVRated)
	c.BatteryPower, c.SoC = finite(c.BatteryPower), finite(c.SoC)
	c.GridPower, c.GridVoltage, c.GridFrequency = finite(c.GridPower), finite(c.GridVoltage), finite(c.GridFrequency)
	c.Utility = finiteUtility(c.Utility)
	for k := range c.Loads {
		c.Loads[k].Power, c.Loads[k].Demand = finite(c.Loads[k].Power), finite(c.Loads[k].Demand)
	}
	c.EVPower, c.EVMaxPower = finite(c.EVPower), finite(c.EVMaxPower)
	c.EVDelivered, c.EVNeeded = finite(c.EVDelivered), finite(c.EVNeeded)
	return c
}
