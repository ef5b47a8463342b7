package der

import (
	"context"
	"errors"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// ErrStale is returned (possibly wrapped) by a device whose latest reading is too old to trust, for
// example an MQTT topic that went quiet or a Modbus device in back-off. The controller marks the
// values stale and falls back to safe set-points; it is never fatal.
var ErrStale = errors.New("der: reading is stale")

// Sign conventions on the AC bus of a unit: consumption is positive. A charging battery, an importing
// grid connection and a load are positive; a discharging battery, an exporting grid connection and a
// PV inverter's output are reported as the magnitudes named in each field.

// PVStatus is what a PV inverter reports.
type PVStatus struct {
	Power     units.Watts // AC output now (≥ 0)
	Available units.Watts // AC output it could give without a limit; negative when unknown
	Rated     units.Watts // nameplate AC power; zero or negative when unknown
}

// PVInverter is a PV inverter whose active power can be limited.
type PVInverter interface {
	ReadPV(ctx context.Context) (PVStatus, error)
	// SetPVLimit caps the AC output at limit (≥ 0); the rated power means no limit.
	SetPVLimit(ctx context.Context, limit units.Watts) error
}

// BatteryStatus is what a battery inverter and its BMS report.
type BatteryStatus struct {
	Power          units.Watts    // AC power, positive when charging
	SoC            units.Fraction // state of charge
	Capacity       units.WattHours
	MaxCharge      units.Watts // AC charge limit now (the BMS may lower it)
	MaxDischarge   units.Watts // AC discharge limit now, as a magnitude
	GridForming    bool        // true while it holds voltage and frequency of an island
	ChargeEff      units.Fraction
	DischargeEff   units.Fraction
	SoCMin, SoCMax units.Fraction // limits the BMS enforces
}

// Battery is a battery behind a (hybrid) inverter.
type Battery interface {
	ReadBattery(ctx context.Context) (BatteryStatus, error)
	// SetBatteryPower asks for an AC power, positive to charge, negative to discharge. While the
	// inverter is grid-forming it balances the island by itself and the set-point is kept for later.
	SetBatteryPower(ctx context.Context, p units.Watts) error
}

// MeterStatus is what the meter at the point of common coupling reports.
type MeterStatus struct {
	Power     units.Watts // positive when importing from the grid
	Voltage   units.Volts
	Frequency units.Hertz
	// GridPresent is true when the utility side of the PCC is energised within its normal window.
	GridPresent bool
}

// Meter is the grid meter.
type Meter interface {
	ReadMeter(ctx context.Context) (MeterStatus, error)
}

// Switch is a relay or contactor with a feedback input.
type Switch interface {
	// ReadSwitch returns the feedback: true when closed.
	ReadSwitch(ctx context.Context) (bool, error)
	SetSwitch(ctx context.Context, closed bool) error
}

// LoadStatus is what a switched load reports.
type LoadStatus struct {
	Power  units.Watts // drawn now
	Demand units.Watts // what it would draw if switched on
	On     bool
}

// Load is a load behind its own relay (the critical circuit, the Wi-Fi access point, IGFS storage).
type Load interface {
	ReadLoad(ctx context.Context) (LoadStatus, error)
	SetLoad(ctx context.Context, on bool) error
}

// EVStatus is what an EV charger reports about the connected vehicle and its session.
type EVStatus struct {
	Connected bool
	Power     units.Watts // drawn now
	MaxPower  units.Watts // the most the car and charger accept now
	Delivered units.WattHours
	Needed    units.WattHours // energy the driver asked for in this session
	Deadline  time.Time       // when the driver leaves; zero when none was given
}

// EVCharger is a charger whose power can be set.
type EVCharger interface {
	ReadEV(ctx context.Context) (EVStatus, error)
	SetEVPower(ctx context.Context, p units.Watts) error
}

// The optional interfaces below are implemented by devices that have the capability; the controller
// type-asserts for them and goes without when a device lacks one.

// UtilityStatus is the utility side of an open PCC, as a synchronising relay senses it.
type UtilityStatus struct {
	Voltage   units.Volts
	Frequency units.Hertz
	PhaseDeg  float64 // the utility's phase minus the island's, in degrees
}

// ErrNoUtilitySensor is what a UtilitySensor's ReadUtility returns on a site whose meter does not
// sense the utility side (its mapping has no such points): the controller reconnects by an open
// transition instead of synchronising.
var ErrNoUtilitySensor = errors.New("der: the meter does not sense the utility side of the PCC")

// UtilitySensor is a PCC meter that also senses the utility side of the contactor.
type UtilitySensor interface {
	ReadUtility(ctx context.Context) (UtilityStatus, error)
}

// ReactivePowerSetter is a PV (or hybrid) inverter that takes a reactive power set-point, positive
// injecting: the IEEE 1547 volt-var response.
type ReactivePowerSetter interface {
	SetReactivePower(ctx context.Context, q units.VoltAmperesReactive) error
}

// FrequencyShifter is a PV (or hybrid) inverter with an active anti-islanding method, Sandia
// frequency shift: on, it biases its current's frequency away from nominal so that an island its
// passive detector cannot see (load matched to its output) drifts out of the frequency window.
type FrequencyShifter interface {
	SetFrequencyShift(ctx context.Context, on bool) error
}

// Energizer is an inverter with a connect/disconnect control (SunSpec model 123 Conn): false makes
// it cease to energize, true lets it energize again; a grid-forming inverter that tripped restarts
// (black start) on energize after a cease.
type Energizer interface {
	SetEnergize(ctx context.Context, on bool) error
}

// GridFormer is a battery inverter that is told to form the grid or to follow it, and, while
// forming, the frequency and voltage to hold (zero: its own droop), for synchronisation.
type GridFormer interface {
	SetGridForming(ctx context.Context, forming bool) error
	SetFormingSetpoints(ctx context.Context, f units.Hertz, v units.Volts) error
}

// ServiceDegrader carries the controller's service degradation step (0 full; 1 IGFS replication
// paused; 2 IGFS reads only; 3 Wi-Fi client limit; 4 Wi-Fi off) to the unit's services.
type ServiceDegrader interface {
	SetServiceStep(ctx context.Context, step int) error
}
