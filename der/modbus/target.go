package modbus

import (
	"fmt"

	"github.com/fractals-energy/fractals/der"
)

// MaxUnitID is the highest Modbus unit id a device may have (248-255 are reserved).
const MaxUnitID = 247

// Target is where a Modbus device sits: a gateways[] entry of the unit file and a unit id on it.
// Drivers of Modbus devices (SunSpec, register maps) embed it inline in their configuration, so
// the two fields and their checks are written once.
type Target struct {
	Gateway string `yaml:"gateway"` // the name of a gateways[] entry
	Unit    *int   `yaml:"unit"`    // the Modbus unit id (a template may supply it)
}

// Check reports a unit id that is missing or out of range.
func (t *Target) Check(report func(field, format string, args ...any)) {
	if t.Unit == nil {
		report("unit", "missing: the Modbus unit id, 0..%d", MaxUnitID)
	} else if *t.Unit < 0 || *t.Unit > MaxUnitID {
		report("unit", "%d outside 0..%d", *t.Unit, MaxUnitID)
	}
}

// Uses is the gateway the device is reached through.
func (t *Target) Uses() []der.Use {
	return []der.Use{{Field: "gateway", Kind: der.SharedModbusGateway, Name: t.Gateway,
		Missing: fmt.Sprintf("%q is not among the gateways", t.Gateway)}}
}

// Open returns the device's unit on the gateway the unit opened.
func (t *Target) Open(env der.Env) (*Unit, error) {
	res, err := env.Resource(der.SharedModbusGateway, t.Gateway)
	if err != nil {
		return nil, err
	}
	gw, ok := res.(*Gateway)
	if !ok {
		return nil, fmt.Errorf("gateway %s: %T is not a Modbus gateway", t.Gateway, res)
	}
	if t.Unit == nil || *t.Unit < 0 || *t.Unit > MaxUnitID {
		return nil, fmt.Errorf("gateway %s: no valid unit id", t.Gateway)
	}
	return gw.Unit(byte(*t.Unit)), nil
}

// RegisterKey is the claim key of one holding register of a unit, the same for every driver that
// writes it.
func (t *Target) RegisterKey(addr int) string {
	unit := -1
	if t.Unit != nil {
		unit = *t.Unit
	}
	return fmt.Sprintf("modbus-register %s/%d/%d", t.Gateway, unit, addr)
}
