package config

import (
	"slices"
	"strings"

	"github.com/fractals-energy/fractals/der/regmap"
	"github.com/fractals-energy/fractals/der/templates"
)

// applyTemplate fills what a device entry leaves out from its template: protocol, unit id, MQTT
// preset, register map. It reports false when the template is unknown or contradicts the entry
// (the entry is then not checked further: its errors would only repeat this one).
func (v *validator) applyTemplate(i int, d *Device) bool {
	if d.Template == "" {
		return true
	}
	t, ok := templates.Get(d.Template)
	if !ok {
		v.fail(p("devices", i, "template"), "unknown template %q: accepted %s (see fractals templates)", d.Template, strings.Join(templates.Names(), ", "))
		return false
	}
	switch {
	case d.Protocol == "":
		d.Protocol = t.Protocol
	case d.Protocol != t.Protocol:
		v.fail(p("devices", i, "protocol"), "%q, but template %s is a %s device", d.Protocol, t.Name, t.Protocol)
		return false
	}
	for k, r := range d.Roles {
		if !slices.Contains(t.Roles, string(r)) {
			v.fail(p("devices", i, "roles", k), "%q: template %s can play %s", r, t.Name, strings.Join(t.Roles, ", "))
		}
	}
	if d.UnitID == nil && t.Defaults.Unit != nil {
		id := *t.Defaults.Unit
		d.UnitID = &id
	}
	if d.Preset == "" {
		d.Preset = t.Defaults.Preset
	}
	if t.Registers != nil {
		if d.Registers != nil {
			v.fail(p("devices", i, "registers"), "template %s brings its own register map", t.Name)
			return false
		}
		d.Registers = t.Registers
	}
	return true
}

// The roles a register-map device may play, registered here so the driver's part of the file
// stays in one place.
func init() { roles["regmap"] = map[string]bool{"pv": true, "battery": true, "meter": true} }

// regmapRoleNeeds are the points a register-map device must have for each role.
var regmapRoleNeeds = map[string][]string{
	"pv":      {regmap.PVPower},
	"battery": {regmap.BatterySoC, regmap.BatteryPower},
	"meter":   {regmap.MeterPower, regmap.MeterVoltage, regmap.MeterFrequency},
}

func (v *validator) regmapDevice(i int, d *Device, gateways map[string]bool) {
	if !gateways[d.Gateway] {
		v.fail(p("devices", i, "gateway"), "%q is not among the gateways", d.Gateway)
	}
	if d.UnitID == nil {
		v.fail(p("devices", i, "unit"), "missing: the Modbus unit id, 0..%d", maxUnitID)
	} else if *d.UnitID < 0 || *d.UnitID > maxUnitID {
		v.fail(p("devices", i, "unit"), "%d outside 0..%d", *d.UnitID, maxUnitID)
	}
	if d.Registers == nil {
		v.fail(p("devices", i, "registers"), "missing: a regmap device needs a template or a register map")
		return
	}
	if err := d.Registers.Validate(); err != nil {
		v.fail(p("devices", i, "registers"), "%v", err)
		return
	}
	has := func(point string) bool {
		return slices.ContainsFunc(d.Registers.Points, func(r regmap.Register) bool { return r.Point == point })
	}
	for k, r := range d.Roles {
		for _, need := range regmapRoleNeeds[string(r)] {
			if !has(need) {
				v.fail(p("devices", i, "roles", k), "role %q needs a %s point in the register map", r, need)
			}
		}
	}
	if d.PVRated < 0 || d.PVRated > maxPVRated {
		v.fail(p("devices", i, "pv_rated_w"), "%g outside 0..%g", d.PVRated, float64(maxPVRated))
	} else if slices.Contains(d.Roles, "pv") && d.PVRated == 0 && !has(regmap.PVRated) {
		v.fail(p("devices", i, "pv_rated_w"), "missing: the PV inverter's rating in W (or a pv.rated point)")
	}
}

// A SunSpec device may be the PCC meter (models 201-204, 211-214).
func init() { roles["sunspec"]["meter"] = true }
