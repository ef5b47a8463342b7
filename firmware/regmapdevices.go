package firmware

import (
	"github.com/fractals-energy/fractals/der/regmap"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/internal/units"
)

// regmap builds a register-map device (a template's or the file's own map) on its gateway. It
// polls at most once per half cycle, so the roles it plays read one poll per cycle.
func (b *builder) regmap(d *config.Device) error {
	gw := b.gateways[d.Gateway]
	dev, err := regmap.New(regmap.Config{Name: d.Name, StaleAfter: b.staleAfter(d), MinInterval: b.cc.Cycle / 2, Clock: b.clk},
		gw.Unit(byte(*d.UnitID)), d.Registers)
	if err != nil {
		return err
	}
	inv := &regmap.Inverter{Dev: dev, PVRated: units.Watts(d.PVRated), Capacity: b.cc.BatteryCapacity,
		MaxCharge: b.cc.BatteryMaxCharge, MaxDischarge: b.cc.BatteryMaxDischarge,
		NominalVoltage: b.cc.NominalVoltage, NominalFrequency: b.cc.NominalFrequency}
	for _, r := range d.Roles {
		switch r {
		case "pv":
			b.hw.Devices.PV = inv
		case "battery":
			b.hw.Devices.Battery = inv
		case "meter":
			b.hw.Devices.Meter = inv
		}
	}
	return nil
}
