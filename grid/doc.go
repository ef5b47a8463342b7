// Package grid is the electrical physics of a microgrid: the network model and MATPOWER case reader,
// power flow (Newton-Raphson and radial sweep), linear sensitivities, droop and inertia dynamics of an
// island, IEEE 1547-2018 protection functions and islanding detection. It is pure: time comes in as
// arguments, never from the wall clock, and it performs no I/O beyond parsing what it is given.
package grid
