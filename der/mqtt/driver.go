package mqtt

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/units"
)

// The driver's registration: a unit file's `protocol: mqtt` entry is decoded into a DriverConfig.
func init() {
	roles := []der.Role{der.RolePV, der.RoleBattery, der.RoleMeter, der.RoleEV}
	for k := range der.NumLoadRoles {
		roles = append(roles, der.LoadPowerRole(k))
	}
	der.Register("mqtt", der.Driver{Roles: roles, NewConfig: func() der.DriverConfig { return &DriverConfig{} }})
}

// DefaultVebusInstance is the VE.Bus instance of a Victron Multi when the entry does not say.
const DefaultVebusInstance = 276

// Presets a DriverConfig may name; "" is a device described by its own topics.
const (
	PresetVictron = "victron"
	PresetOpenDTU = "opendtu"
)

// Connection is the broker the unit's MQTT devices are reached through: the unit file's mqtt:
// section, lent to the driver as der.SharedMQTTBroker.
type Connection struct {
	Broker   string // tcp://host:port
	ClientID string // the unit's client id prefix ("" : the unit's name)
	Username string
	Password string
}

// DriverConfig is an MQTT device's part of the unit file.
type DriverConfig struct {
	Preset   string            `yaml:"preset"`    // victron, opendtu or "" (custom)
	PortalID string            `yaml:"portal_id"` // victron
	Serial   string            `yaml:"serial"`    // opendtu inverter serial
	Prefix   string            `yaml:"prefix"`    // topic prefix
	Topics   map[string]string `yaml:"topics"`    // point -> topic
	Fields   map[string]string `yaml:"fields"`    // point -> JSON field in the payload
	Commands map[string]string `yaml:"commands"`  // command -> topic
	// VebusInstance (victron) is the VE.Bus instance of the Multi, default DefaultVebusInstance.
	VebusInstance int `yaml:"vebus_instance"`
	// Keepalive (victron) is how often the keepalive is sent, default VictronKeepalive (Venus OS
	// stops publishing a minute after the last one); values last two keepalives.
	Keepalive time.Duration `yaml:"keepalive"`
	// TrustRetained accepts a retained message as a fresh reading; off (the default), a retained
	// value counts as stale until a live message arrives, since a broker keeps a sleeping or
	// vanished device's last value for ever.
	TrustRetained bool `yaml:"trust_retained"`
	// PublishInterval (opendtu) is OpenDTU's MQTT publish interval, default 5s; values last three.
	PublishInterval time.Duration `yaml:"publish_interval"`
	// PVRated is the PV inverter's AC rating in W. Required for role pv unless the topics map
	// pv.rated: the controller caps PV at the rating, so a rating left at 0 would curtail to 0 W.
	PVRated float64 `yaml:"pv_rated_w"`
}

// Check reports what the preset needs and forbids, unknown point and command names, topics that
// are not topic names, and a missing PV rating.
func (c *DriverConfig) Check(roles []der.Role, report func(field, format string, args ...any)) {
	c.checkPreset(report)
	der.CheckPVRating(roles, c.PVRated, c.Preset == "" && c.Topics[PVRated] != "", "a pv.rated topic", report)
	if c.Preset != "" && (len(c.Topics) > 0 || len(c.Commands) > 0 || len(c.Fields) > 0) {
		report("preset", "%s: the preset brings its own topics; topics, commands and fields are for a device without preset", c.Preset)
	}
	if c.Preset == "" && len(c.Topics) == 0 {
		report("topics", "missing: a device without preset needs its topic mapping")
	}
	c.checkNames(report)
}

func (c *DriverConfig) checkPreset(report func(field, format string, args ...any)) {
	switch c.Preset {
	case "", PresetVictron, PresetOpenDTU:
	default:
		report("preset", "%q: accepted victron, opendtu or none", c.Preset)
	}
	if c.Preset == PresetVictron && c.PortalID == "" {
		report("portal_id", "missing: the Venus OS portal id")
	}
	if c.Preset == PresetOpenDTU && c.Serial == "" {
		report("serial", "missing: the inverter serial number")
	}
	if c.VebusInstance != 0 && (c.Preset != PresetVictron || c.VebusInstance < 0 || c.VebusInstance > 65535) {
		report("vebus_instance", "%d: accepted 0..65535, with preset victron only", c.VebusInstance)
	}
	if c.Keepalive != 0 && (c.Preset != PresetVictron || c.Keepalive < time.Second || c.Keepalive > 55*time.Second) {
		report("keepalive", "%v: accepted 1s..55s, with preset victron only", c.Keepalive)
	}
	if c.PublishInterval != 0 && (c.Preset != PresetOpenDTU || c.PublishInterval < time.Second || c.PublishInterval > 10*time.Minute) {
		report("publish_interval", "%v: accepted 1s..10m, with preset opendtu only", c.PublishInterval)
	}
}

// checkNames refuses a point, command or field name no adapter reads (a typo such as "pv.pwr"
// would simply never arrive) and a topic with wildcards.
func (c *DriverConfig) checkNames(report func(field, format string, args ...any)) {
	for point, topic := range c.Topics {
		if !slices.Contains(PointNames, point) {
			report("topics."+point, "unknown point %q: accepted %s", point, strings.Join(PointNames, ", "))
		} else if !plainTopic(topic) {
			report("topics."+point, "%q is not a topic name (no wildcards)", topic)
		}
	}
	for cmd, topic := range c.Commands {
		if !slices.Contains(CommandNames, cmd) {
			report("commands."+cmd, "unknown command %q: accepted %s", cmd, strings.Join(CommandNames, ", "))
		} else if !plainTopic(topic) {
			report("commands."+cmd, "%q is not a topic name (no wildcards)", topic)
		}
	}
	for name := range c.Fields {
		if !slices.Contains(PointNames, name) && !slices.Contains(CommandNames, name) {
			report("fields."+name, "unknown point or command %q: accepted %s", name,
				strings.Join(append(slices.Clone(PointNames), CommandNames...), ", "))
		} else if c.Topics[name] == "" && c.Commands[name] == "" {
			report("fields."+name, "%q has a field but no topic in topics or commands", name)
		}
	}
}

func plainTopic(t string) bool { return t != "" && !strings.ContainsAny(t, "+#\x00") }

// Uses is the unit's broker.
func (c *DriverConfig) Uses() []der.Use {
	return []der.Use{{Field: "protocol", Kind: der.SharedMQTTBroker, Missing: "mqtt device but no mqtt: broker section"}}
}

// Offers: an MQTT device lends its connection and, for a relay's circuit, its load.power reading.
func (c *DriverConfig) Offers() []string { return []string{der.SharedMQTT, der.SharedLoadMeter} }

// Claims are the command topics it publishes: two devices writing one topic would undo each
// other's set-points.
func (c *DriverConfig) Claims() []der.Claim {
	m := c.Mapping()
	cmds := make([]string, 0, len(m.Commands))
	for cmd := range m.Commands {
		cmds = append(cmds, cmd)
	}
	sort.Strings(cmds)
	out := make([]der.Claim, 0, len(cmds))
	for _, cmd := range cmds {
		field := "preset"
		if c.Preset == "" {
			field = "commands." + cmd
		}
		topic := m.Commands[cmd].Topic
		out = append(out, der.Claim{Field: field, Key: "mqtt-topic " + topic, Is: fmt.Sprintf("topic %q", topic), Label: cmd})
	}
	return out
}

// Mapping is the entry's topic mapping: its preset's, or its own topics under its prefix.
func (c *DriverConfig) Mapping() Mapping {
	var m Mapping
	switch c.Preset {
	case PresetVictron:
		vebus := c.VebusInstance
		if vebus == 0 {
			vebus = DefaultVebusInstance
		}
		m = Victron(c.PortalID, vebus)
		if c.Keepalive > 0 {
			m.Keepalive.Every, m.StaleAfter = c.Keepalive, VictronStaleAfter(c.Keepalive)
		}
	case PresetOpenDTU:
		m = OpenDTU(c.Prefix, c.Serial)
		if c.PublishInterval > 0 {
			m.StaleAfter = OpenDTUStaleAfter(c.PublishInterval)
		}
	default:
		m = Mapping{Points: map[string]Binding{}, Commands: map[string]Binding{}}
		for point, topic := range c.Topics {
			m.Points[point] = Binding{Topic: c.Prefix + topic, Field: c.Fields[point]}
		}
		for cmd, topic := range c.Commands {
			m.Commands[cmd] = Binding{Topic: c.Prefix + topic, Field: c.Fields[cmd]}
		}
	}
	m.TrustRetained = c.TrustRetained
	return m
}

// Open builds the device on the unit's broker (connected by Run, once every device is open). Its
// stale limit is the entry's stale_after, else its preset's (from the device's publishing
// rhythm, slower than the control cycle), else the polled devices' cycle rule.
func (c *DriverConfig) Open(env der.Env) (der.Opened, error) {
	res, err := env.Resource(der.SharedMQTTBroker, "")
	if err != nil {
		return der.Opened{}, err
	}
	conn, ok := res.(Connection)
	if !ok {
		return der.Opened{}, fmt.Errorf("broker: %T is not an mqtt.Connection", res)
	}
	m := c.Mapping()
	stale := env.StaleLimit()
	if env.StaleAfter == 0 && m.StaleAfter > 0 {
		stale = m.StaleAfter
	}
	// Client ids must be unique on the broker, which kicks the older of two clients with one id:
	// two units with a device of the same name ("meter") would kick each other for ever.
	clientID := env.Unit + "-" + env.Name
	if conn.ClientID != "" {
		clientID = conn.ClientID + "-" + env.Name
	}
	dev, err := New(Config{Name: env.Name, Broker: conn.Broker, ClientID: clientID, Username: conn.Username,
		Password: conn.Password, Mapping: m, StaleAfter: stale, MaxReconnect: 2 * time.Second, Clock: env.Clock})
	if err != nil {
		return der.Opened{}, err
	}
	inv := &Inverter{Dev: dev, PVRated: units.Watts(c.PVRated), Capacity: env.Site.BatteryCapacity,
		MaxCharge: env.Site.BatteryMaxCharge, MaxDischarge: env.Site.BatteryMaxDischarge,
		NominalVoltage: env.Site.NominalVoltage, NominalFrequency: env.Site.NominalFrequency}
	return der.Opened{PV: inv, Battery: inv, Meter: inv, EV: &Charger{Dev: dev},
		Shares: map[string]any{der.SharedMQTT: dev, der.SharedLoadMeter: &LoadMeter{Dev: dev}},
		Run:    func(context.Context) { dev.Start() },
		Closer: der.CloserFunc(func() error { dev.Close(); return nil })}, nil
}
