// Command fractalsd is the FRACTALS unit daemon. With no configuration it runs one unit against the
// simulated plant in real time, logs a status line per cycle and serves GET /api/status.
package main
