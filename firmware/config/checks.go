package config

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Checks across the whole unit file that no single field can make: empty list entries, ports that
// cannot be dialled, pins wired to two things.

// hostPort checks a host:port address: the port must be a number a socket can use. Before this
// check a gateway at port 99999 passed and the daemon dialled it for ever, stuck in safe mode.
func hostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port")
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("port %q is not a number", port)
	}
	if n < 1 || n > 65535 {
		return fmt.Errorf("port %d outside 1..65535", n)
	}
	return nil
}

// emptyEntries refuses null entries in the lists of the file (`- ` or `- null`): yaml drops them
// from the decoded slice, so a device the installer meant to write would silently not exist.
func (v *validator) emptyEntries() {
	for _, list := range []string{"gateways", "devices"} {
		n := v.at(list)
		if n == v.root || n.Kind != yaml.SequenceNode {
			continue
		}
		for i, item := range n.Content {
			if item.Kind == yaml.ScalarNode && item.Tag == "!!null" {
				v.fail(p(list, i), "empty entry: remove the dash or write the %s", list[:len(list)-1])
			}
		}
	}
}

// sharedPins refuses a GPIO line named by two pins: a storage load wired to the PCC coil would
// switch the grid connection whenever the controller sheds storage.
func (v *validator) sharedPins(u *Unit) {
	type use struct {
		device int
		name   string
	}
	used := map[string]use{}
	for i := range u.Devices {
		d := &u.Devices[i]
		if d.Protocol != "gpio" {
			continue
		}
		pinRoles := make([]string, 0, len(d.Pins))
		for role := range d.Pins {
			pinRoles = append(pinRoles, role)
		}
		sort.Strings(pinRoles) // file-independent but stable: the second use is the one reported
		for _, role := range pinRoles {
			line := d.Pins[role].Name
			if line == "" {
				continue
			}
			if first, ok := used[line]; ok {
				v.fail(p("devices", i, "pins", role), "pin %q already used by devices[%d] (%s)", line, first.device, first.name)
				continue
			}
			used[line] = use{i, d.Name + "." + role}
		}
	}
}

// sharedTargets refuses two devices that write the same thing: a register set-point of one Modbus
// unit, or an MQTT command topic. Two controllers of one set-point would undo each other's writes.
func (v *validator) sharedTargets(u *Unit) {
	registers := map[string]string{} // gateway/unit/address -> "devices[i] point"
	topics := map[string]string{}
	for i := range u.Devices {
		d := &u.Devices[i]
		if d.Protocol == "regmap" && d.Registers != nil && d.UnitID != nil {
			for k := range d.Registers.Setpoints {
				s := &d.Registers.Setpoints[k]
				for w := 0; w < s.Size(); w++ {
					key := fmt.Sprintf("%s/%d/%d", d.Gateway, *d.UnitID, int(s.Address)+w)
					if first, ok := registers[key]; ok && !strings.HasPrefix(first, fmt.Sprintf("devices[%d] ", i)) {
						v.fail(p("devices", i, "registers"), "set-point %s writes register %d of unit %d on %s, as %s does",
							s.Point, int(s.Address)+w, *d.UnitID, d.Gateway, first)
						break
					}
					registers[key] = fmt.Sprintf("devices[%d] %s", i, s.Point)
				}
			}
		}
		if d.Protocol == "mqtt" {
			cmds := make([]string, 0, len(d.Commands))
			for c := range d.Commands {
				cmds = append(cmds, c)
			}
			sort.Strings(cmds)
			for _, c := range cmds {
				topic := d.Prefix + d.Commands[c]
				if first, ok := topics[topic]; ok {
					v.fail(p("devices", i, "commands", c), "topic %q is already written by %s", topic, first)
					continue
				}
				topics[topic] = fmt.Sprintf("devices[%d] %s", i, c)
			}
		}
	}
}
