package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fractals-energy/fractals/der"
)

// Unit is the device configuration of one MeshBox++ unit.
type Unit struct {
	Name     string        `yaml:"name"`
	Cycle    time.Duration `yaml:"cycle"` // control cycle, default 1s
	Gateways []Gateway     `yaml:"gateways"`
	MQTT     *MQTT         `yaml:"mqtt"`
	// PinServer, when set, is where the gpio devices' pins live (the HIL rig's pin server); without
	// it they are the host's own GPIO lines.
	PinServer *PinServer `yaml:"pin_server"`
	Site      *Site      `yaml:"site"`
	Devices   []Device   `yaml:"devices"`
	Market    *Market    `yaml:"market"` // trading with the community; defaults when left out
	Mesh      *Mesh      `yaml:"mesh"`
	// DataDir and Telemetry are the operations side (telemetry.go).
	DataDir   string     `yaml:"data_dir"`
	Telemetry *Telemetry `yaml:"telemetry"`
	// Protection is the IEEE 1547 category and settings (protection.go); nil: category II defaults.
	Protection *Protection `yaml:"protection"`
	// Chain and Channels configure the payment channels (ledger.go); without channels the unit
	// runs no ledger.
	Chain    *Chain    `yaml:"chain"`
	Channels *Channels `yaml:"channels"`
}

// PinServer is a remote pin server speaking der/gpio's line protocol.
type PinServer struct {
	Address string        `yaml:"address"` // host:port
	Timeout time.Duration `yaml:"timeout"` // per request, default 1s
}

// Site is what the controller knows about the site that the devices do not report; a field left
// out keeps the controller's default (the default MeshBox++ unit).
type Site struct {
	StaleLimit          time.Duration  `yaml:"stale_limit"` // a value not read for this long is missing
	BatteryCapacity     float64        `yaml:"battery_capacity_wh"`
	BatteryMaxCharge    float64        `yaml:"battery_max_charge_w"`
	BatteryMaxDischarge float64        `yaml:"battery_max_discharge_w"`
	SoCMin              *float64       `yaml:"soc_min"`
	SoCMax              *float64       `yaml:"soc_max"`
	Reserve             *float64       `yaml:"reserve"`
	MaxImport           *float64       `yaml:"max_import_w"`
	MaxExport           *float64       `yaml:"max_export_w"`
	NominalVoltage      float64        `yaml:"nominal_voltage"`
	NominalFrequency    float64        `yaml:"nominal_frequency"`
	ReconnectDelay      *time.Duration `yaml:"reconnect_delay"`
}

// Gateway is a Modbus endpoint: a TCP address (one device, or a gateway with many unit ids) or an
// RS-485 line.
type Gateway struct {
	Name           string        `yaml:"name"`
	Protocol       string        `yaml:"protocol"` // modbus-tcp or modbus-rtu
	Address        string        `yaml:"address"`  // host:port, or the serial device
	Timeout        time.Duration `yaml:"timeout"`
	MaxConcurrent  int           `yaml:"max_concurrent"`
	WriteReadDelay time.Duration `yaml:"write_read_delay"`
	BackoffMin     time.Duration `yaml:"backoff_min"`
	BackoffMax     time.Duration `yaml:"backoff_max"`
	Serial         *Serial       `yaml:"serial"`
}

// Serial is the line setting of a modbus-rtu gateway.
type Serial struct {
	Baud     int    `yaml:"baud"`
	DataBits int    `yaml:"data_bits"`
	Parity   string `yaml:"parity"`
	StopBits int    `yaml:"stop_bits"`
}

// MQTT is the broker MQTT devices are reached through.
type MQTT struct {
	Broker   string `yaml:"broker"` // tcp://host:port
	ClientID string `yaml:"client_id"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// Device is one device entry of the unit file: the fields every device has, and the rest, which
// belong to the driver its protocol names (der.Register) and are decoded and checked by it
// (devices.go), after the template the entry names has supplied what the entry leaves out.
type Device struct {
	Name     string     `yaml:"name"`
	Protocol string     `yaml:"protocol"` // a registered driver: sunspec, regmap, mqtt, gpio, hostapd ...
	Roles    []der.Role `yaml:"roles"`    // pv, battery, meter, pcc, load0.., ev ...
	// StaleAfter is how long a reading lasts; 0: the driver's rule (its preset's rhythm, or one
	// and a half cycles).
	StaleAfter time.Duration `yaml:"stale_after"`
	// Template names a known device (der/templates) whose protocol and driver fields (unit id,
	// preset, register map) the entry may leave out.
	Template string `yaml:"template"`

	// DriverFields are the entry's other fields, its driver's own; Driver is them (merged with the
	// template's) decoded and checked by that driver.
	DriverFields map[string]yaml.Node `yaml:",inline"`
	Driver       der.DriverConfig     `yaml:"-"`
}

// Error is a configuration error: where it is and what is wrong.
type Error struct {
	File  string
	Line  int
	Field string // "devices[1].unit"
	Msg   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// Errors is every error found in one file.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// maxConfigBytes bounds what Load reads: a unit file is a few kilobytes.
const maxConfigBytes = 1 << 20

// Load reads and validates the configuration file at path.
func Load(path string) (*Unit, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(path, f)
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// Parse reads and validates a configuration; name is used in error messages.
func Parse(name string, r io.Reader) (*Unit, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", name, err)
	}
	var u Unit
	root, err := decodeStrict(name, data, &u)
	if err != nil {
		return nil, err
	}
	v := validator{file: name, root: root}
	v.unit(&u)
	v.ledger(&u)
	if len(v.errs) > 0 {
		// Map fields are checked in random order; report in file order.
		sort.SliceStable(v.errs, func(i, j int) bool {
			if v.errs[i].Line != v.errs[j].Line {
				return v.errs[i].Line < v.errs[j].Line
			}
			return v.errs[i].Field < v.errs[j].Field
		})
		return nil, v.errs
	}
	return &u, nil
}

// yamlError turns yaml's "line N: ..." messages into Errors with file and line.
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	var out Errors
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		line := 1
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			line, _ = strconv.Atoi(sm[1])
			m = sm[2]
		}
		out = append(out, &Error{name, line, "(yaml)", strings.TrimPrefix(m, "yaml: ")})
	}
	return out
}

// validator checks a decoded Unit, finding lines through the node tree.
type validator struct {
	file string
	root *yaml.Node
	errs Errors
}

// at finds the node of a field path like "devices", 1, "unit"; it falls back to the closest
// ancestor found, so an error always has a line.
func (v *validator) at(path ...any) *yaml.Node {
	n := v.root
	for _, p := range path {
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						next = n.Content[i+1]
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

func fieldName(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch k := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		}
	}
	return b.String()
}

func (v *validator) fail(path []any, format string, args ...any) {
	v.errs = append(v.errs, &Error{v.file, v.at(path...).Line, fieldName(path), fmt.Sprintf(format, args...)})
}

func p(parts ...any) []any { return parts }

// The accepted ranges, named once so the messages and the checks agree.
const (
	minCycle, maxCycle     = 100 * time.Millisecond, 10 * time.Second
	minTimeout, maxTimeout = 10 * time.Millisecond, time.Minute
)

func (v *validator) unit(u *Unit) {
	v.mesh(u.Mesh)
	if u.Name == "" {
		v.fail(p("name"), "missing: the unit needs a name")
	}
	v.protection(u.Protection, u.Site)
	if u.Cycle == 0 {
		u.Cycle = time.Second
	} else if u.Cycle < minCycle || u.Cycle > maxCycle {
		v.fail(p("cycle"), "%v outside %v..%v", u.Cycle, minCycle, maxCycle)
	}
	gateways := map[string]bool{}
	for i := range u.Gateways {
		g := &u.Gateways[i]
		v.gateway(i, g)
		if gateways[g.Name] {
			v.fail(p("gateways", i, "name"), "%q defined twice", g.Name)
		}
		gateways[g.Name] = true
	}
	if u.MQTT != nil {
		if !strings.HasPrefix(u.MQTT.Broker, "tcp://") && !strings.HasPrefix(u.MQTT.Broker, "mqtt://") {
			v.fail(p("mqtt", "broker"), "%q: want tcp://host:port", u.MQTT.Broker)
		} else if err := hostPort(u.MQTT.Broker[strings.Index(u.MQTT.Broker, "://")+3:]); err != nil {
			v.fail(p("mqtt", "broker"), "%q: %v", u.MQTT.Broker, err)
		}
	}
	if ps := u.PinServer; ps != nil {
		if err := hostPort(ps.Address); err != nil {
			v.fail(p("pin_server", "address"), "%q: %v", ps.Address, err)
		}
		if ps.Timeout != 0 && (ps.Timeout < minTimeout || ps.Timeout > maxTimeout) {
			v.fail(p("pin_server", "timeout"), "%v outside %v..%v", ps.Timeout, minTimeout, maxTimeout)
		}
	}
	if u.Site != nil {
		v.site(u.Site, u.Cycle)
	}
	v.emptyEntries()
	if u.Market != nil {
		v.market(u.Market)
	}
	v.operations(u)
	if len(u.Devices) == 0 {
		v.fail(p("devices"), "missing: a unit needs at least one device")
	}
	v.devices(u, gateways)
}

func (v *validator) site(s *Site, cycle time.Duration) {
	if s.StaleLimit != 0 && (s.StaleLimit < cycle || s.StaleLimit > time.Hour) {
		v.fail(p("site", "stale_limit"), "%v outside the cycle %v..1h", s.StaleLimit, cycle)
	}
	positive := []struct {
		name string
		v    float64
		max  float64
	}{{"battery_capacity_wh", s.BatteryCapacity, 1e7}, {"battery_max_charge_w", s.BatteryMaxCharge, 1e6},
		{"battery_max_discharge_w", s.BatteryMaxDischarge, 1e6}, {"nominal_voltage", s.NominalVoltage, 1000},
		{"nominal_frequency", s.NominalFrequency, 400}}
	for _, f := range positive {
		if f.v < 0 || f.v > f.max || f.v != f.v {
			v.fail(p("site", f.name), "%g outside 0..%g (0: default)", f.v, f.max)
		}
	}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"soc_min", s.SoCMin}, {"soc_max", s.SoCMax}, {"reserve", s.Reserve}} {
		if f.v != nil && !(*f.v >= 0 && *f.v <= 1) {
			v.fail(p("site", f.name), "%g outside 0..1 (a fraction)", *f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"max_import_w", s.MaxImport}, {"max_export_w", s.MaxExport}} {
		if f.v != nil && !(*f.v >= 0 && *f.v <= 1e7) {
			v.fail(p("site", f.name), "%g outside 0..1e7", *f.v)
		}
	}
	if s.ReconnectDelay != nil && (*s.ReconnectDelay < 0 || *s.ReconnectDelay > time.Hour) {
		v.fail(p("site", "reconnect_delay"), "%v outside 0..1h", *s.ReconnectDelay)
	}
}

func (v *validator) gateway(i int, g *Gateway) {
	if g.Name == "" {
		v.fail(p("gateways", i, "name"), "missing")
	}
	switch g.Protocol {
	case "modbus-tcp":
		if err := hostPort(g.Address); err != nil {
			v.fail(p("gateways", i, "address"), "%q: %v", g.Address, err)
		}
		if g.Serial != nil {
			v.fail(p("gateways", i, "serial"), "only for modbus-rtu")
		}
	case "modbus-rtu":
		if !strings.HasPrefix(g.Address, "/dev/") {
			v.fail(p("gateways", i, "address"), "%q: want a serial device such as /dev/ttyUSB0", g.Address)
		}
		if s := g.Serial; s != nil {
			if s.Baud != 0 && (s.Baud < 1200 || s.Baud > 921600) {
				v.fail(p("gateways", i, "serial", "baud"), "%d outside 1200..921600", s.Baud)
			}
			if s.Parity != "" && s.Parity != "N" && s.Parity != "E" && s.Parity != "O" {
				v.fail(p("gateways", i, "serial", "parity"), "%q: accepted N, E or O", s.Parity)
			}
			if s.DataBits != 0 && (s.DataBits < 7 || s.DataBits > 8) {
				v.fail(p("gateways", i, "serial", "data_bits"), "%d: accepted 7 or 8", s.DataBits)
			}
			if s.StopBits != 0 && (s.StopBits < 1 || s.StopBits > 2) {
				v.fail(p("gateways", i, "serial", "stop_bits"), "%d: accepted 1 or 2", s.StopBits)
			}
		}
	default:
		v.fail(p("gateways", i, "protocol"), "%q: accepted modbus-tcp or modbus-rtu", g.Protocol)
	}
	if g.Timeout != 0 && (g.Timeout < minTimeout || g.Timeout > maxTimeout) {
		v.fail(p("gateways", i, "timeout"), "%v outside %v..%v", g.Timeout, minTimeout, maxTimeout)
	}
	if g.MaxConcurrent < 0 || g.MaxConcurrent > 16 {
		v.fail(p("gateways", i, "max_concurrent"), "%d outside 0..16 (0: default 1)", g.MaxConcurrent)
	}
	if g.WriteReadDelay < 0 || g.WriteReadDelay > 10*time.Second {
		v.fail(p("gateways", i, "write_read_delay"), "%v outside 0..10s", g.WriteReadDelay)
	}
	if g.BackoffMin < 0 || g.BackoffMax < 0 || (g.BackoffMax != 0 && g.BackoffMax < g.BackoffMin) {
		v.fail(p("gateways", i, "backoff_max"), "%v must be ≥ backoff_min %v and not negative", g.BackoffMax, g.BackoffMin)
	}
}

// decodeStrict decodes a configuration file into out, refusing unknown fields, and returns the
// document's root node for the line numbers of later checks. Errors name the file and line.
func decodeStrict(name string, data []byte, out any) (*yaml.Node, error) {
	if len(data) > maxConfigBytes {
		return nil, &Error{name, 1, "(file)", fmt.Sprintf("larger than %d bytes", maxConfigBytes)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	if len(root.Content) == 0 {
		return nil, &Error{name, 1, "(file)", "empty configuration"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		return nil, yamlError(name, err)
	}
	return root.Content[0], nil
}
