package regmap

import (
	"fmt"
	"slices"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/internal/units"
)

// The driver's registration: a unit file's `protocol: regmap` entry (usually a template's) is
// decoded into a DriverConfig.
func init() {
	der.Register("regmap", der.Driver{Roles: []der.Role{der.RolePV, der.RoleBattery, der.RoleMeter},
		NewConfig: func() der.DriverConfig { return &DriverConfig{} }})
}

// DriverConfig is a register-map device's part of the unit file.
type DriverConfig struct {
	modbus.Target `yaml:",inline"`
	// Registers is the device's register map, usually its template's.
	Registers *Map `yaml:"registers"`
	// PVRated is the PV inverter's AC rating in W, for a map without a pv.rated point.
	PVRated float64 `yaml:"pv_rated_w"`
}

// roleNeeds are the points a register-map device must have for each role.
var roleNeeds = map[der.Role][]string{
	der.RolePV:      {PVPower},
	der.RoleBattery: {BatterySoC, BatteryPower},
	der.RoleMeter:   {MeterPower, MeterVoltage, MeterFrequency},
}

// Check reports the unit id, a missing or invalid map, a role the map has no points for and a PV
// rating neither the map nor the entry gives.
func (c *DriverConfig) Check(roles []der.Role, report func(field, format string, args ...any)) {
	c.Target.Check(report)
	if c.Registers == nil {
		report("registers", "missing: a regmap device needs a template or a register map")
		return
	}
	if err := c.Registers.Validate(); err != nil {
		report("registers", "%v", err)
		return
	}
	for k, r := range roles {
		for _, need := range roleNeeds[r] {
			if !c.has(need) {
				report(fmt.Sprintf("roles[%d]", k), "role %q needs a %s point in the register map", r, need)
			}
		}
	}
	der.CheckPVRating(roles, c.PVRated, c.has(PVRated), "a pv.rated point", report)
}

func (c *DriverConfig) has(point string) bool {
	return slices.ContainsFunc(c.Registers.Points, func(r Register) bool { return r.Point == point })
}

// Claims are the registers its set-points write (each once, the first set-point naming it).
func (c *DriverConfig) Claims() []der.Claim {
	if c.Registers == nil || c.Unit == nil {
		return nil
	}
	var out []der.Claim
	seen := map[int]bool{}
	for k := range c.Registers.Setpoints {
		s := &c.Registers.Setpoints[k]
		for w := 0; w < s.Size(); w++ {
			addr := int(s.Address) + w
			if seen[addr] {
				continue
			}
			seen[addr] = true
			out = append(out, der.Claim{Field: "registers", Key: c.RegisterKey(addr), Label: s.Point,
				Is: fmt.Sprintf("set-point %s: register %d of unit %d on %s", s.Point, addr, *c.Unit, c.Gateway)})
		}
	}
	return out
}

// Open builds the device on its gateway. It polls at most once per half cycle, so the roles it
// plays read one poll per cycle; ratings the map lacks come from the entry and the site.
func (c *DriverConfig) Open(env der.Env) (der.Opened, error) {
	unit, err := c.Target.Open(env)
	if err != nil {
		return der.Opened{}, err
	}
	dev, err := New(Config{Name: env.Name, StaleAfter: env.StaleLimit(), MinInterval: env.Cycle / 2, Clock: env.Clock},
		unit, c.Registers)
	if err != nil {
		return der.Opened{}, err
	}
	inv := &Inverter{Dev: dev, PVRated: units.Watts(c.PVRated), Capacity: env.Site.BatteryCapacity,
		MaxCharge: env.Site.BatteryMaxCharge, MaxDischarge: env.Site.BatteryMaxDischarge,
		NominalVoltage: env.Site.NominalVoltage, NominalFrequency: env.Site.NominalFrequency}
	return der.Opened{PV: inv, Battery: inv, Meter: inv}, nil
}
