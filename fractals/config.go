package fractals

import (
	"errors"
	"fmt"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// Config is what the controller knows about its site that devices do not report.
type Config struct {
	Cycle      time.Duration // control cycle period
	StaleLimit time.Duration // a value not read good for this long becomes missing

	BatteryCapacity     units.WattHours
	BatteryMaxCharge    units.Watts
	BatteryMaxDischarge units.Watts
	ChargeEff           units.Fraction
	DischargeEff        units.Fraction
	SoCMin, SoCMax      units.Fraction // the BMS's limits: never planned beyond
	Reserve             units.Fraction // kept for outages: used only when islanded
	// ServicesFloor splits the reserve: islanded, the unit's own services (Wi-Fi, storage) may draw the
	// battery down to it, and only critical loads below it, down to SoCMin. The mesh stays up into the
	// night while the last band is kept for what must not go dark.
	ServicesFloor units.Fraction

	MaxImport, MaxExport units.Watts // at the point of common coupling

	NominalVoltage   units.Volts
	NominalFrequency units.Hertz
	// ReconnectDelay is how long the utility must be back within its window before the PCC closes
	// again (IEEE 1547-2018 enter-service default: 300 s).
	ReconnectDelay time.Duration

	EVMinPower units.Watts // chargers cannot go lower (6 A single phase ≈ 1.4 kW)
	// EVMargin is how early before the last possible moment the EV starts charging at full power, so that
	// a few cycles of bad data or a lowered limit do not cost the deadline.
	EVMargin time.Duration
	// ServiceHysteresis is the extra supply, as a fraction of demand, needed to switch a shed service
	// back on, so that a relay does not chatter around the threshold.
	ServiceHysteresis units.Fraction
	// IslandCurtailment is how surplus PV is curtailed in an island once the battery cannot take
	// it: by the PV limit set-point (the default), or by frequency shift, the grid-forming inverter
	// raising the island's frequency and every PV inverter on the island following its
	// frequency-watt curve (PV the controller cannot write to, a community island's neighbours).
	IslandCurtailment Curtailment
	// Protection configures the protection tick: IEEE 1547 relay, island detector, enter service,
	// synchronisation and switch supervision. Its zero value means the category II defaults for the
	// site's nominal frequency with ReconnectDelay as the enter-service delay (see Protecting).
	Protection ProtectionConfig
}

// Curtailment is a way of curtailing surplus PV in an island.
type Curtailment uint8

const (
	// CurtailBySetpoint writes the PV inverter's limit down to what the island can use.
	CurtailBySetpoint Curtailment = iota
	// CurtailByFrequency leaves the PV limit at the rating: the grid-forming inverter shifts the
	// frequency and the PV follows its frequency-watt curve.
	CurtailByFrequency
)

// String names the curtailment.
func (c Curtailment) String() string {
	if c == CurtailByFrequency {
		return "frequency"
	}
	return "setpoint"
}

// DefaultConfig matches the default simulated plant (hil.DefaultConfig).
func DefaultConfig() Config {
	return Config{Cycle: time.Second, StaleLimit: 10 * time.Second, BatteryCapacity: 10000,
		BatteryMaxCharge: 5000, BatteryMaxDischarge: 5000, ChargeEff: 0.95, DischargeEff: 0.95,
		SoCMin: 0.05, SoCMax: 0.95, Reserve: 0.2, ServicesFloor: 0.125, MaxImport: 11000, MaxExport: 3000,
		NominalVoltage: 230, NominalFrequency: 50, ReconnectDelay: 300 * time.Second,
		EVMinPower: 1400, EVMargin: 15 * time.Minute, ServiceHysteresis: 0.1}
}

// Protecting returns the protection settings in force: Protection, or when it is unset (zero tick)
// the defaults for the site.
func (c *Config) Protecting() ProtectionConfig {
	if c.Protection.Tick == 0 {
		return DefaultProtectionConfig(c.NominalFrequency, c.ReconnectDelay)
	}
	return c.Protection
}

// Validate reports every value outside its range, each naming its field.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("controller config: "+format, args...))
		}
	}
	check(c.Cycle >= 100*time.Millisecond && c.Cycle <= 10*time.Second, "cycle %v out of range [100ms, 10s]", c.Cycle)
	check(c.StaleLimit >= c.Cycle, "stale_limit %v shorter than the cycle %v", c.StaleLimit, c.Cycle)
	check(c.BatteryCapacity > 0, "battery_capacity %v must be positive", c.BatteryCapacity)
	check(c.BatteryMaxCharge >= 0 && c.BatteryMaxDischarge >= 0, "battery power limits must not be negative")
	check(c.ChargeEff > 0 && c.ChargeEff <= 1 && c.DischargeEff > 0 && c.DischargeEff <= 1, "efficiencies must be in (0, 1]")
	check(c.SoCMin >= 0 && c.SoCMin < c.SoCMax && c.SoCMax <= 1, "soc limits [%g, %g] must satisfy 0 ≤ min < max ≤ 1", float64(c.SoCMin), float64(c.SoCMax))
	check(c.Reserve >= c.SoCMin && c.Reserve < c.SoCMax, "reserve %g out of range [soc_min %g, soc_max %g)", float64(c.Reserve), float64(c.SoCMin), float64(c.SoCMax))
	check(c.ServicesFloor >= c.SoCMin && c.ServicesFloor <= c.Reserve, "services_floor %g out of range [soc_min %g, reserve %g]", float64(c.ServicesFloor), float64(c.SoCMin), float64(c.Reserve))
	check(c.MaxImport >= 0 && c.MaxExport >= 0, "grid limits must not be negative")
	check(c.NominalVoltage > 0 && c.NominalFrequency > 0, "nominal voltage and frequency must be positive")
	check(c.ReconnectDelay >= 0, "reconnect_delay must not be negative")
	check(c.EVMinPower >= 0 && c.EVMargin >= 0, "ev_min_power and ev_margin must not be negative")
	check(c.IslandCurtailment <= CurtailByFrequency, "island_curtailment %d: accepted setpoint (0) or frequency (1)", c.IslandCurtailment)
	check(c.ServiceHysteresis >= 0 && c.ServiceHysteresis <= 1, "service_hysteresis %g out of range [0, 1]", float64(c.ServiceHysteresis))
	pc := c.Protecting()
	if err := pc.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("controller config: %w", err))
	} else if pc.Relay.Nominal != float64(c.NominalFrequency) || pc.Detector.Nominal != c.NominalFrequency {
		errs = append(errs, fmt.Errorf("controller config: protection settings are for %g Hz, the site is %g Hz", pc.Relay.Nominal, float64(c.NominalFrequency)))
	}
	return errors.Join(errs...)
}
