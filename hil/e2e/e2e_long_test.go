//go:build e2elong

package e2e

import (
	"testing"
	"time"
)

// TestEndToEndMinute is the full check of issue 4: both processes run for a minute of real time at
// a 1 s cycle, 28 s compared cycle by cycle with the plant (with a utility outage that islands the
// unit and a reconnection), then the inverter silent for 30 s (long
// enough for its own 20 s revert timer to idle the battery), then recovery. About 65 s of wall time:
//
//	go test -tags e2elong -run TestEndToEndMinute -v ./hil/e2e/
func TestEndToEndMinute(t *testing.T) {
	run(t, params{cycle: time.Second, speed: 10, healthy: 28 * time.Second, offline: 30 * time.Second,
		recovery: 10 * time.Second, revert: true,
		outage: "40s-100s", reconnect: true})
}
