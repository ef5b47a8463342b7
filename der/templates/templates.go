package templates

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/regmap"
)

//go:embed *.yaml
var files embed.FS

// Template is one known device.
type Template struct {
	Name     string     `yaml:"name"`
	Maker    string     `yaml:"maker"`
	Model    string     `yaml:"model"`
	Protocol string     `yaml:"protocol"` // sunspec, mqtt or regmap
	Roles    []der.Role `yaml:"roles"`    // the roles it can play
	// Source is the public document the registers (or topics) come from.
	Source string `yaml:"source"`
	// Port is the Modbus TCP port the device listens on (for the gateway's address), 0 when it
	// has none.
	Port int `yaml:"port"`
	// Defaults are fields of the protocol's driver configuration (unit, preset ...) that a unit
	// file entry naming the template may leave out or override. They stay YAML: the unit file's
	// reader merges them into the entry before the driver decodes it (Fields).
	Defaults yaml.Node `yaml:"defaults"`
	Quirks   []string  `yaml:"quirks"`
	// Controls are the set-points the controller can use on it (empty: read only).
	Controls []string `yaml:"controls"`
	// Registers is the register map (protocol regmap only): a field of the driver configuration
	// that the template fixes, an entry may not bring its own.
	Registers *regmap.Map `yaml:"registers"`
	registers *yaml.Node  // Registers as written, for Fields
}

var (
	once   sync.Once
	all    map[string]*Template
	errAll error
)

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,40}$`)

func load() {
	all = map[string]*Template{}
	names, _ := fs.Glob(files, "*.yaml")
	var errs []string
	for _, n := range names {
		t, err := parse(n)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if all[t.Name] != nil {
			errs = append(errs, fmt.Sprintf("%s: template %q defined twice", n, t.Name))
		}
		all[t.Name] = t
	}
	if len(errs) > 0 {
		errAll = fmt.Errorf("templates: %s", strings.Join(errs, "; "))
	}
}

func parse(file string) (*Template, error) {
	data, err := files.ReadFile(file)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var t Template
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var raw struct {
		Registers yaml.Node `yaml:"registers"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if t.Registers != nil {
		t.registers = &raw.Registers
	}
	if err := t.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &t, nil
}

func (t *Template) validate() error {
	switch {
	case !validName.MatchString(t.Name):
		return fmt.Errorf("name %q: want lower-case letters, digits and dashes", t.Name)
	case t.Maker == "" || t.Model == "" || t.Source == "":
		return fmt.Errorf("%s: maker, model and source are required", t.Name)
	case len(t.Roles) == 0:
		return fmt.Errorf("%s: roles missing", t.Name)
	case t.Defaults.Kind != 0 && t.Defaults.Kind != yaml.MappingNode:
		return fmt.Errorf("%s: defaults: want a mapping of the driver's fields", t.Name)
	case t.Port < 0 || t.Port > 65535:
		return fmt.Errorf("%s: port %d outside 1..65535", t.Name, t.Port)
	}
	switch t.Protocol {
	case "regmap":
		if t.Registers == nil {
			return fmt.Errorf("%s: a regmap template needs registers", t.Name)
		}
		if err := t.Registers.Validate(); err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
	case "sunspec", "mqtt":
		if t.Registers != nil {
			return fmt.Errorf("%s: registers are for protocol regmap", t.Name)
		}
	default:
		return fmt.Errorf("%s: protocol %q: accepted sunspec, mqtt or regmap", t.Name, t.Protocol)
	}
	return nil
}

// Fields are the driver configuration fields the template supplies, by yaml name: defaults, which
// an entry naming the template may override, and fixed ones (the register map), which it may not.
func (t *Template) Fields() (defaults, fixed map[string]*yaml.Node) {
	defaults, fixed = map[string]*yaml.Node{}, map[string]*yaml.Node{}
	for i := 0; i+1 < len(t.Defaults.Content); i += 2 {
		defaults[t.Defaults.Content[i].Value] = t.Defaults.Content[i+1]
	}
	if t.registers != nil {
		fixed["registers"] = t.registers
	}
	return defaults, fixed
}

// All returns every template, sorted by name; the error names any file that does not load (a
// test keeps it nil).
func All() ([]*Template, error) {
	once.Do(load)
	out := make([]*Template, 0, len(all))
	for _, t := range all {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, errAll
}

// Get returns the template called name.
func Get(name string) (*Template, bool) {
	once.Do(load)
	t, ok := all[name]
	return t, ok
}

// Names lists the template names, sorted.
func Names() []string {
	ts, _ := All()
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}
