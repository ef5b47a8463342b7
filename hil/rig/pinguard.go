package rig

import (
	"fmt"
	"net"
	"net/netip"
)

// checkPinListen refuses a pin server address that is not loopback unless remote access was asked
// for: the pin server is a rig transport with no authentication (anyone who reaches it can drive the
// unit's relays and inputs, "OUT LOAD0_COIL 0"), so by default it only listens on 127.0.0.1 or ::1.
func checkPinListen(addr string, remote bool) error {
	if remote {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("rig: pin server address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("rig: pin server address %q is not loopback: the pin server has no authentication; set PinsRemote (hilrig --pins-remote) to serve it beyond this host", addr)
	}
	return nil
}
