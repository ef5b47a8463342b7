// Package e2e holds the end-to-end test of a unit: the HIL rig (cmd/hilrig) and the daemon
// (cmd/fractalsd --config) run as two processes talking over loopback, and the test compares the
// controller's view (GET /api/status) with the plant's truth (the rig's GET /truth/history) and
// injects faults through the rig (POST /fault). It has no code of its own besides the tests.
//
// The short variant runs in `go test ./...`; the full minute with a 30 s outage runs with
//
//	go test -tags e2elong -run TestEndToEndMinute -v ./hil/e2e/
package e2e
