package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Checks that no single field can make: empty list entries, ports that cannot be dialled. Those
// across devices (resources used and claimed) are in devices.go.

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
