package modbus

import (
	"fmt"
	"net"
	"strconv"
)

// checkTCPAddress refuses an address no socket can dial: without it a gateway at port 99999 was
// built, every request failed with a dial error the controller saw only as stale values, and the
// daemon sat in safe mode without saying why.
func checkTCPAddress(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("modbus: gateway address %q: want host:port", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("modbus: gateway address %q: port %q is not a number in 1..65535", addr, port)
	}
	return nil
}
