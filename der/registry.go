package der

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

// Role is what a device plays for the controller, as a unit file names it.
type Role string

// The roles a unit file may give a device (and LoadRole, LoadPowerRole).
const (
	RolePV          Role = "pv"
	RoleBattery     Role = "battery"
	RoleMeter       Role = "meter"
	RolePCC         Role = "pcc"
	RoleEV          Role = "ev"
	RoleAccessPoint Role = "access_point"
	RoleStorageNode Role = "storage_node"
	// RoleGridPresent is an input that tells whether the utility side of the PCC is energised; it
	// overrides the PCC meter's own guess (WithGridPresence).
	RoleGridPresent Role = "grid_present"
	// RoleDoor and RoleFault are inputs for the operator: logged when they change, not acted on.
	RoleDoor  Role = "door"
	RoleFault Role = "fault"
)

// DriverConfig is a driver's own part of a device entry in the unit file: the fields beside the
// common ones (name, protocol, roles, template, stale_after), decoded from the entry by their yaml
// tags, after the entry's template (if any) has supplied the fields the entry leaves out.
type DriverConfig interface {
	// Check reports every problem, each with the yaml path of the field it concerns relative to
	// the entry ("unit", "pins.relay", "topics.pv.power", "roles[0]"), so the unit file's reader
	// can say file:line:field. roles are the roles the entry gives the device.
	Check(roles []Role, report func(field, format string, args ...any))
	// Open builds the device. Connections open lazily: a device that is down is read as stale.
	Open(env Env) (Opened, error)
}

// The optional interfaces below let the unit file's reader check what no single entry can: that
// the resources an entry refers to exist, and that no two entries drive the same thing.

// Use is a shared resource an entry refers to by name: a gateways[] entry, the mqtt: broker
// section, another device's relay.
type Use struct {
	Field   string // the entry's field that names it ("gateway", "interlock")
	Kind    string // a Shared* kind
	Name    string // the name the file gives it ("" for the unit's one broker or pin server)
	Missing string // what the reader says when the unit has none such ("\"rs485\" is not among the gateways")
}

// User is a DriverConfig whose device needs shared resources.
type User interface{ Uses() []Use }

// Claim is something only one device of a unit may drive: a GPIO line, a register set-point of
// one Modbus unit, an MQTT command topic. Two drivers of one thing would undo each other's
// writes, or worse: a storage load wired to the PCC coil would switch the grid connection.
type Claim struct {
	Field string // the entry's field that claims it ("pins.relay", "commands.ev.setpoint")
	Key   string // equal keys conflict, across drivers too ("gpio-line GPIO17")
	Is    string // the thing, for the message (`pin "GPIO17"`)
	Label string // this use, for the message naming it to a later claimant ("relay")
}

// Claimer is a DriverConfig whose device drives things no other device may.
type Claimer interface{ Claims() []Claim }

// Offerer is a DriverConfig whose device lends other devices a resource under its own name (a
// relay to interlock with, a load meter); Offers lists the Shared* kinds, Opened.Shares the values.
type Offerer interface{ Offers() []string }

// Site is what the unit knows of its site that devices may not report: the battery's and the
// grid's ratings (from the unit file's site section), used where a device does not publish them
// and by the plausibility bounds of readings.
type Site struct {
	BatteryCapacity     units.WattHours
	BatteryMaxCharge    units.Watts
	BatteryMaxDischarge units.Watts
	NominalVoltage      units.Volts
	NominalFrequency    units.Hertz
	Reserve, SoCMax     units.Fraction // the controller's reserve and maximum state of charge
}

// Env is what the unit gives a driver to build a device with.
type Env struct {
	Name  string // the device's name in the unit file
	Unit  string // the unit's name
	Roles []Role // the roles the file gives the device
	Cycle time.Duration
	// StaleAfter is the entry's stale_after, zero when it does not say (see StaleLimit).
	StaleAfter time.Duration
	// Refresh is how often the controller's writer resends an unchanged set-point.
	Refresh time.Duration
	Site    Site
	Clock   clock.Clock
	Log     *slog.Logger
	// Shared looks up a resource by kind and name (shared.go): the unit's own (gateways, broker,
	// pin server) at any time, other devices' (Opened.Shares) once every device is open, that is
	// in Opened.Link. Drivers call Env.Resource.
	Shared func(kind, name string) (any, error)
	// PlayedBy is the name of the device that plays role r, "" when none does.
	PlayedBy func(r Role) string
}

// StaleLimit is how long a polled value lasts: the entry's stale_after, else one and a half
// control cycles (within two cycles of the last good read a device is known to be gone).
func (e Env) StaleLimit() time.Duration {
	if e.StaleAfter > 0 {
		return e.StaleAfter
	}
	return e.Cycle * 3 / 2
}

// Has reports whether the file gives the device role r.
func (e Env) Has(r Role) bool {
	for _, have := range e.Roles {
		if have == r {
			return true
		}
	}
	return false
}

// Opened is a device as a driver built it: the interfaces it offers for the roles it may play,
// what it lends other devices, and its life cycle hooks (each nil when it has none).
type Opened struct {
	PV           PVInverter
	Battery      Battery
	Meter        Meter
	AccessPoint  AccessPoint
	StorageNode  StorageNode
	Switch       Switch    // for RolePCC
	Load         Load      // for a LoadRole
	EV           EVCharger // for RoleEV
	GridPresence Indicator // for RoleGridPresent
	// Shares are what the device lends others under its name, by Shared* kind.
	Shares map[string]any
	// Link runs once every device of the unit is open, to resolve references to other devices
	// (an interlock, a load meter) through env.Resource.
	Link func(env Env) error
	// Run is background work (sampling an input, connecting to a broker), started once every
	// device is linked and run until ctx ends; the unit waits for it before Closer.
	Run    func(ctx context.Context)
	Closer io.Closer
}

// Driver is a protocol a unit file may name.
type Driver struct {
	Roles     []Role              // the roles its devices may play
	NewConfig func() DriverConfig // a zero config to decode an entry into (a pointer to a struct)
}

var (
	driversMu sync.RWMutex
	drivers   = map[string]Driver{}
)

// Register makes a driver known under its protocol name; a driver package calls it from init. A
// second registration of one name is a programming error and panics at start.
func Register(protocol string, d Driver) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if _, dup := drivers[protocol]; dup {
		panic(fmt.Sprintf("der: driver %q registered twice", protocol))
	}
	drivers[protocol] = d
}

// Lookup returns the driver registered under protocol.
func Lookup(protocol string) (Driver, bool) {
	driversMu.RLock()
	defer driversMu.RUnlock()
	d, ok := drivers[protocol]
	return d, ok
}

// Drivers lists the registered protocol names in order.
func Drivers() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	out := make([]string, 0, len(drivers))
	for name := range drivers {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// CloserFunc adapts a function to io.Closer (a driver's Opened.Closer).
type CloserFunc func() error

// Close calls f.
func (f CloserFunc) Close() error { return f() }
