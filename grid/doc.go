// Package grid is the electrical physics of a microgrid: the network model and MATPOWER case reader,
// power flow (Newton-Raphson and radial sweep), linear sensitivities, droop and inertia dynamics of an
// island, IEEE 1547-2018 protection functions and islanding detection. It is pure: time comes in as
// arguments, never from the wall clock, and it performs no I/O beyond parsing what it is given.
//
// This package holds the network and the power flow:
//
//	c, err := grid.ParseMATPOWER(r, "case33bw")          // *Case, or a *ParseError naming the line
//	res, err := grid.Solve(c, grid.Options{})             // auto: sweep if radial (Newton if it fails), else Newton
//	sens, err := res.Sensitivities()                      // dV/dP, dV/dQ, dPflow/dP, ... at the solution
//
// ParseMATPOWER reads MATPOWER version-2 case files: baseMVA, bus, gen, branch (and bus_name); gencost
// and other literal data fields are read and ignored. Distribution cases end with Octave statements
// that convert branch impedances from ohms to p.u. and loads from kW to MW; exactly those are applied
// (plus case141's kVA-at-a-power-factor conversion, a load-unit conversion of the same kind), and any
// other statement is refused with an error naming its line. Out-of-service branches are left out.
//
// Solve follows MATPOWER's model (pi lines, off-nominal taps and phase shifters on the from side, bus
// shunts, line charging, PV buses without an in-service generator treated as PQ) and its default
// mismatch tolerance of 1e-8 p.u. Newton-Raphson works in polar coordinates on a fill-reducing
// (minimum-degree) ordering with a sparsity-aware LU, falling back to gonum's pivoted LU. The sweep is a
// backward/forward sweep on branch currents (two-port transfer equations, so taps and charging are
// exact) with PV-node compensation on the shared-path impedances; it converges to the same exact AC
// solution on radial networks and stops on the same power-mismatch tolerance as Newton-Raphson. Auto
// falls back to Newton-Raphson when the sweep fails, and Result.Method names the method that solved.
// Non-convergence (*NotConvergedError) and islands without a slack bus are errors, never numbers.
//
// The sub-packages hold the rest of the physics:
//
//   - grid/ieee1547: trip, ride-through, volt-var, volt-watt, frequency-droop and enter-service functions
//     of IEEE 1547-2018, time-stepped at the protection tick;
//   - grid/islanding: island detection (UV/OV/UF/OF, RoCoF, vector shift, PCC breaker);
//   - grid/droop: frequency and voltage dynamics of an island held by grid-forming droop inverters.
//
// What this room must not do: import anything above internal and gonum, read the clock, or touch files,
// sockets and devices (the callers in fractals/, hil/ and cmd/ do that).
package grid
