// Package clock is the only source of time for FRACTALS cores. Every controller, market, channel and
// plant model takes a Clock as a parameter instead of calling time.Now, so that the same code runs in
// real time on a unit and in simulated time in tests and in the simulator (a day in about a second).
//
// Real is the wall clock. Sim is a manual clock: time moves only when Advance or Set is called, and
// timers, tickers and sleepers fire in deadline order as it passes them. It does no I/O.
package clock
