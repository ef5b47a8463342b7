package config

import (
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/fractals-energy/fractals/der"
	// The drivers that own their configuration register themselves (der.Register) when imported:
	// adding one is its package and one line here.
	_ "github.com/fractals-energy/fractals/der/hostapd"
	_ "github.com/fractals-energy/fractals/der/storagenode"
)

// driverDevice checks an entry whose protocol is a registered driver: its own fields are decoded
// into the driver's config (a field it does not know is refused, as yaml refuses one of the common
// fields) and checked by the driver, each problem reported at the field's line. It returns the roles
// the driver's devices may play, and false when no driver has the name.
func (v *validator) driverDevice(i int, d *Device) (map[string]bool, bool) {
	drv, ok := der.Lookup(d.Protocol)
	if !ok {
		return nil, false
	}
	allowed := map[string]bool{}
	for _, r := range drv.Roles {
		allowed[string(r)] = true
	}
	cfg := drv.NewConfig()
	known := yamlFields(cfg)
	own := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, key := range sortedKeys(d.DriverFields) {
		n := d.DriverFields[key]
		if !known[key] {
			v.errs = append(v.errs, &Error{v.file, v.at("devices", i, key).Line, "(yaml)", "field " + key + " not found in a " + d.Protocol + " device"})
			continue
		}
		own.Content = append(own.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Line: n.Line}, &n)
	}
	if err := own.Decode(cfg); err != nil {
		v.errs = append(v.errs, yamlError(v.file, err).(Errors)...)
		return allowed, true
	}
	cfg.Check(func(field, format string, args ...any) { v.fail(p("devices", i, field), format, args...) })
	d.Driver = cfg
	return allowed, true
}

// noDriverFields refuses fields beyond the common ones in an entry of a protocol whose fields are
// still the common Device struct's (sunspec, mqtt, regmap, gpio): yaml would have refused them.
func (v *validator) noDriverFields(i int, d *Device) {
	for _, key := range sortedKeys(d.DriverFields) {
		v.errs = append(v.errs, &Error{v.file, v.at("devices", i, key).Line, "(yaml)", "field " + key + " not found in a " + d.Protocol + " device"})
	}
}

// yamlFields are the yaml names of a config struct's fields.
func yamlFields(cfg any) map[string]bool {
	t := reflect.TypeOf(cfg)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]bool{}
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" {
			name = strings.ToLower(t.Field(i).Name)
		}
		if name != "-" {
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
