// Package firmware is the unit runtime: configuration, wiring devices (real or simulated) to the
// controller, the cycle loop on the injected clock, storage, telemetry, the HTTP API and the watchdog.
// Operations: observers see the status after every cycle (observe.go); the state file in the data
// directory (state.go, bbolt); the dashboard at / with its in-memory history (dashboard.go,
// history.go, web/); systemd's READY and WATCHDOG from the loop (watchdog.go); operator settings
// applied between cycles (settings.go). The reporters (InfluxDB, MQTT, Prometheus) are in
// firmware/telemetry.
// It may import every package but cmd; it holds no control logic of its own.
package firmware
