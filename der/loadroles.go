package der

import (
	"context"
	"strconv"

	"github.com/fractals-energy/fractals/internal/units"
)

// NumLoadRoles is how many switched load circuits a unit file may name (load0, load1, load2).
const NumLoadRoles = 3

// LoadRole is the role of switched load circuit k (0-based): "load0", "load1"...
func LoadRole(k int) Role { return Role("load" + strconv.Itoa(k)) }

// LoadPowerRole is the role of the device that measures load circuit k: "load0_power"... The
// circuit's relay reads its power from it (a LoadMeter the device lends as SharedLoadMeter).
func LoadPowerRole(k int) Role { return LoadRole(k) + "_power" }

// Load says which load circuit a role switches, if it is a LoadRole.
func (r Role) Load() (int, bool) {
	for k := range NumLoadRoles {
		if r == LoadRole(k) {
			return k, true
		}
	}
	return 0, false
}

// LoadPower says which load circuit a role measures, if it is a LoadPowerRole.
func (r Role) LoadPower() (int, bool) {
	for k := range NumLoadRoles {
		if r == LoadPowerRole(k) {
			return k, true
		}
	}
	return 0, false
}

// LoadMeter reports what a switched circuit draws and would draw; a relay alone cannot tell.
type LoadMeter interface {
	ReadLoadPower(ctx context.Context) (power, demand units.Watts, err error)
}
