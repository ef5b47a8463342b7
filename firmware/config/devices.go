package config

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/templates"
)

// devices checks every device entry, each through its driver, then what only the whole file can
// tell: names and roles given twice, resources used that the file lacks, things two devices drive.
func (v *validator) devices(u *Unit, gateways map[string]bool) {
	names, taken := map[string]int{}, map[der.Role]string{}
	for i := range u.Devices {
		d := &u.Devices[i]
		if d.Name == "" {
			v.fail(p("devices", i, "name"), "missing")
		} else if _, dup := names[d.Name]; dup {
			v.fail(p("devices", i, "name"), "%q defined twice", d.Name)
		} else {
			names[d.Name] = i
		}
		v.device(i, d)
		for k, r := range d.Roles {
			if other, ok := taken[r]; ok {
				v.fail(p("devices", i, "roles", k), "role %q already played by %q", r, other)
			}
			taken[r] = d.Name
		}
	}
	v.uses(u, gateways, names)
	v.claims(u)
}

// device checks one entry: its template merged in, its protocol's driver, roles and stale_after,
// and its driver's own fields decoded and checked by the driver.
func (v *validator) device(i int, d *Device) {
	defaults, fixed, ok := v.template(i, d)
	if !ok {
		return
	}
	drv, ok := der.Lookup(d.Protocol)
	if !ok {
		v.fail(p("devices", i, "protocol"), "%q: accepted %s", d.Protocol, strings.Join(der.Drivers(), ", "))
		return
	}
	if len(d.Roles) == 0 {
		v.fail(p("devices", i, "roles"), "missing: what the device is for (%s)", roleList(drv.Roles))
	}
	for k, r := range d.Roles {
		if !slices.Contains(drv.Roles, r) {
			v.fail(p("devices", i, "roles", k), "%q: a %s device may be %s", r, d.Protocol, roleList(drv.Roles))
		}
	}
	if d.StaleAfter < 0 || d.StaleAfter > time.Hour {
		v.fail(p("devices", i, "stale_after"), "%v outside 0..1h", d.StaleAfter)
	}
	cfg := drv.NewConfig()
	if !v.decodeDriver(i, d, cfg, defaults, fixed) {
		return
	}
	cfg.Check(d.Roles, func(field, format string, args ...any) { v.failIn(i, field, format, args...) })
	d.Driver = cfg
}

// template applies the entry's template: its protocol, the roles it can play, and the driver
// fields it supplies (defaults the entry may override, fixed ones it may not). It reports false
// when the template is unknown or contradicts the entry (its other errors would only repeat this).
func (v *validator) template(i int, d *Device) (defaults, fixed map[string]*yaml.Node, ok bool) {
	if d.Template == "" {
		return nil, nil, true
	}
	t, found := templates.Get(d.Template)
	if !found {
		v.fail(p("devices", i, "template"), "unknown template %q: accepted %s (see fractals templates)", d.Template, strings.Join(templates.Names(), ", "))
		return nil, nil, false
	}
	switch {
	case d.Protocol == "":
		d.Protocol = t.Protocol
	case d.Protocol != t.Protocol:
		v.fail(p("devices", i, "protocol"), "%q, but template %s is a %s device", d.Protocol, t.Name, t.Protocol)
		return nil, nil, false
	}
	for k, r := range d.Roles {
		if !slices.Contains(t.Roles, r) {
			v.fail(p("devices", i, "roles", k), "%q: template %s can play %s", r, t.Name, roleList(t.Roles))
		}
	}
	defaults, fixed = t.Fields()
	for key := range fixed {
		if _, own := d.DriverFields[key]; own {
			v.fail(p("devices", i, key), "template %s brings its own %s", t.Name, key)
			return nil, nil, false
		}
	}
	return defaults, fixed, true
}

// decodeDriver decodes the entry's driver fields, with the template's where the entry has none,
// into the driver's config. A field the driver does not know is refused as yaml refuses an
// unknown common field; a type error names the line it is on.
func (v *validator) decodeDriver(i int, d *Device, cfg der.DriverConfig, defaults, fixed map[string]*yaml.Node) bool {
	known := yamlFields(reflect.TypeOf(cfg))
	merged := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(key string, n *yaml.Node) {
		merged.Content = append(merged.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Line: n.Line}, n)
	}
	good := true
	for _, key := range sortedKeys(d.DriverFields) {
		n := d.DriverFields[key]
		if !known[key] {
			v.errs = append(v.errs, &Error{v.file, v.at("devices", i, key).Line, "(yaml)", "field " + key + " not found in a " + d.Protocol + " device"})
			good = false
			continue
		}
		add(key, &n)
	}
	for _, from := range []map[string]*yaml.Node{defaults, fixed} {
		for key, n := range from {
			if _, own := d.DriverFields[key]; !own {
				add(key, n)
			}
		}
	}
	if err := merged.Decode(cfg); err != nil {
		v.errs = append(v.errs, yamlError(v.file, err).(Errors)...)
		return false
	}
	return good
}

// uses refuses a reference to a resource the file does not have: a gateway, the broker section,
// a device that lends no such thing (an interlock with an input, a meter that is no meter).
func (v *validator) uses(u *Unit, gateways map[string]bool, names map[string]int) {
	for i := range u.Devices {
		user, ok := u.Devices[i].Driver.(der.User)
		if !ok {
			continue
		}
		for _, use := range user.Uses() {
			if der.UnitShared(use.Kind) {
				if !unitHas(u, gateways, use) {
					v.failIn(i, use.Field, "%s", use.Missing)
				}
				continue
			}
			j, found := names[use.Name]
			if !found {
				v.failIn(i, use.Field, "no device %q", use.Name)
			} else if !offers(u.Devices[j].Driver, use.Kind) {
				v.failIn(i, use.Field, "%s", use.Missing)
			}
		}
	}
}

func unitHas(u *Unit, gateways map[string]bool, use der.Use) bool {
	switch use.Kind {
	case der.SharedModbusGateway:
		return gateways[use.Name]
	case der.SharedMQTTBroker:
		return u.MQTT != nil
	case der.SharedPinServer:
		return u.PinServer != nil
	}
	return false
}

func offers(cfg der.DriverConfig, kind string) bool {
	o, ok := cfg.(der.Offerer)
	return ok && slices.Contains(o.Offers(), kind)
}

// claims refuses two devices that drive one thing: a GPIO line, a register set-point, a command
// topic. The second claimant is reported, once per field and use.
func (v *validator) claims(u *Unit) {
	first := map[string]string{}
	reported := map[string]bool{}
	for i := range u.Devices {
		c, ok := u.Devices[i].Driver.(der.Claimer)
		if !ok {
			continue
		}
		for _, cl := range c.Claims() {
			who := fmt.Sprintf("devices[%d] (%s.%s)", i, u.Devices[i].Name, cl.Label)
			prev, dup := first[cl.Key]
			if !dup {
				first[cl.Key] = who
				continue
			}
			if once := who + " " + cl.Field; !reported[once] {
				reported[once] = true
				v.failIn(i, cl.Field, "%s already used by %s", cl.Is, prev)
			}
		}
	}
}

// failIn reports a problem of devices[i] at a field path relative to the entry, as a driver gives
// it ("unit", "pins.relay", "topics.pv.power", "poll.fast[0]").
func (v *validator) failIn(i int, field, format string, args ...any) {
	line := fieldLine(v.at("devices", i), field)
	v.errs = append(v.errs, &Error{v.file, line, fmt.Sprintf("devices[%d].%s", i, field), fmt.Sprintf(format, args...)})
}

// fieldLine finds the line of a field path under n. Keys may contain dots (MQTT point names), so
// each step takes the longest key of the mapping that the path starts with; a step that is not
// found leaves the closest ancestor's line.
func fieldLine(n *yaml.Node, field string) int {
	for field != "" {
		next, rest := stepInto(n, field)
		if next == nil {
			break
		}
		n, field = next, strings.TrimPrefix(rest, ".")
	}
	return n.Line
}

func stepInto(n *yaml.Node, field string) (*yaml.Node, string) {
	if strings.HasPrefix(field, "[") {
		end := strings.IndexByte(field, ']')
		k, err := strconv.Atoi(field[1:max(end, 1)])
		if end < 0 || err != nil || n.Kind != yaml.SequenceNode || k < 0 || k >= len(n.Content) {
			return nil, ""
		}
		return n.Content[k], field[end+1:]
	}
	if n.Kind != yaml.MappingNode {
		return nil, ""
	}
	var best *yaml.Node
	bestLen := 0
	for j := 0; j+1 < len(n.Content); j += 2 {
		key := n.Content[j].Value
		if len(key) > bestLen && strings.HasPrefix(field, key) &&
			(len(field) == len(key) || field[len(key)] == '.' || field[len(key)] == '[') {
			best, bestLen = n.Content[j+1], len(key)
		}
	}
	if best == nil {
		return nil, ""
	}
	return best, field[bestLen:]
}

// yamlFields are the yaml names of a config struct's fields, those of inline structs included.
func yamlFields(t reflect.Type) map[string]bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]bool{}
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case strings.Contains(opts, "inline"):
			for k := range yamlFields(f.Type) {
				out[k] = true
			}
		case name == "-" || !f.IsExported():
		case name == "":
			out[strings.ToLower(f.Name)] = true
		default:
			out[name] = true
		}
	}
	return out
}

func sortedKeys(m map[string]yaml.Node) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func roleList(rs []der.Role) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
