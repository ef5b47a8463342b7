// Package telemetry reports a running unit to the tools its operators already use: InfluxDB (the
// non-blocking write API behind a bounded queue), MQTT with Home Assistant discovery, and Prometheus
// metrics. Each reporter is a firmware.Observer: it sees the unit's status after every control cycle on
// the loop's goroutine, takes what it needs and returns at once; the slow work (network, encoding of
// batches) happens on its own goroutines, so a missing database or broker never delays a cycle.
package telemetry
