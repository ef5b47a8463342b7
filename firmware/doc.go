// Package firmware is the unit runtime: configuration, wiring devices (real or simulated) to the
// controller, the cycle loop on the injected clock, storage, telemetry, the HTTP API and the watchdog,
// the unit key and its mesh node (GET /api/mesh).
// It may import every package but cmd; it holds no control logic of its own.
package firmware
