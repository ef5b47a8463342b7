package der

import "strconv"

// NumLoadRoles is how many switched load circuits a unit file may name (load0, load1, load2).
const NumLoadRoles = 3

// LoadRole is the role of switched load circuit k (0-based): "load0", "load1"...
func LoadRole(k int) Role { return Role("load" + strconv.Itoa(k)) }

// Load says which load circuit a role switches, if it is a LoadRole.
func (r Role) Load() (int, bool) {
	for k := range NumLoadRoles {
		if r == LoadRole(k) {
			return k, true
		}
	}
	return 0, false
}
