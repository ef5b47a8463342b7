//go:build e2elong

package e2e

import (
	"testing"
	"time"
)

// TestEndToEndMinute is the full check of issue 4: a minute of real time at a 1 s cycle with the
// inverter silent for 30 s (long enough for its own 20 s revert timer to idle the battery). About
// 75 s of wall time: go test -tags e2elong -run TestEndToEndMinute -v ./hil/e2e/
func TestEndToEndMinute(t *testing.T) {
	run(t, params{cycle: time.Second, speed: 10, healthy: 20 * time.Second, offline: 30 * time.Second,
		recovery: 10 * time.Second, revert: true})
}
