package der

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/fractals-energy/fractals/internal/clock"
)

// Role is what a device plays for the controller, as a unit file names it.
type Role string

// The roles a unit file may give a device.
const (
	RolePV          Role = "pv"
	RoleBattery     Role = "battery"
	RoleMeter       Role = "meter"
	RolePCC         Role = "pcc"
	RoleEV          Role = "ev"
	RoleAccessPoint Role = "access_point"
	RoleStorageNode Role = "storage_node"
)

// DriverConfig is a driver's own part of a device entry in the unit file: the fields beside the
// common ones (name, protocol, roles, template...), decoded from the entry by their yaml tags.
type DriverConfig interface {
	// Check reports every problem, each with the yaml name of the field it concerns, so the unit
	// file's reader can say file:line:field.
	Check(report func(field, format string, args ...any))
	// Open builds the device. Connections open lazily: a device that is down is read as stale.
	Open(env Env) (Opened, error)
}

// Env is what the unit gives a driver to build a device with.
type Env struct {
	Name  string        // the device's name in the unit file
	Unit  string        // the unit's name
	Cycle time.Duration // the control cycle
	Clock clock.Clock
	Log   *slog.Logger
	// Shared looks up a resource several devices share by kind and name (shared.go); nil when the
	// unit has none to lend. Drivers call Env.Resource.
	Shared func(kind, name string) (any, error)
}

// Opened is a device as a driver built it: the interfaces it offers for the roles it may play, and
// what must be closed when the unit stops (nil: nothing).
type Opened struct {
	PV          PVInverter
	Battery     Battery
	Meter       Meter
	AccessPoint AccessPoint
	StorageNode StorageNode
	Switch      Switch    // for RolePCC
	Load        Load      // for a LoadRole
	EV          EVCharger // for RoleEV
	Closer      io.Closer
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
