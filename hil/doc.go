// Package hil is the hardware-in-the-loop rig: models of the physical plant of a MeshBox++ unit (PV
// with the PVWatts v5 equations under clear-sky irradiance and seeded clouds, battery, loads, grid
// connection with the utility side of the PCC and its phase against the island, a PCC contactor that
// can stick, and the unintentional island of IEEE 1547.1: a dead feeder section with an RLC load
// matched to the unit's export, whose frequency only an active method such as the PV inverter's Sandia
// frequency shift moves, a grid-forming inverter that trips into a blackout, and curtailment by
// frequency shift), a community feeder (community.go: several plants on a MATPOWER feeder with its
// power flow, a head breaker and P–f droop sharing in a community island), and device emulators that speak the real protocols (hil/rig). Scenario files are read
// by hil/scenario and the suite lives in hil/scenarios; the firmware runs them.
//
// The plant is deterministic: it advances only when told to, by a given step, and draws randomness
// from its seed. It never imports the controller (fractals) or the runtime (firmware): the rig sees the
// controller only through the protocols, as real hardware would.
package hil
