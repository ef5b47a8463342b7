package config

import (
	"reflect"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/templates"
)

// Every template's fields are fields of its protocol's driver and decode into its config: a
// template that named a field the driver does not have would make every entry naming it fail.
func TestTemplatesFitTheirDrivers(t *testing.T) {
	ts, err := templates.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range ts {
		drv, ok := der.Lookup(tp.Protocol)
		if !ok {
			t.Errorf("%s: protocol %q has no driver", tp.Name, tp.Protocol)
			continue
		}
		for _, r := range tp.Roles {
			if !slices.Contains(drv.Roles, r) {
				t.Errorf("%s: role %q, which a %s device cannot play", tp.Name, r, tp.Protocol)
			}
		}
		cfg := drv.NewConfig()
		known := yamlFields(reflect.TypeOf(cfg))
		merged := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		defaults, fixed := tp.Fields()
		for _, from := range []map[string]*yaml.Node{defaults, fixed} {
			for key, n := range from {
				if !known[key] {
					t.Errorf("%s: field %q is not a %s driver field", tp.Name, key, tp.Protocol)
				}
				merged.Content = append(merged.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, n)
			}
		}
		if err := merged.Decode(cfg); err != nil {
			t.Errorf("%s: %v", tp.Name, err)
		}
	}
}
