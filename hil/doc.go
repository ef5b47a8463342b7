// Package hil is the hardware-in-the-loop rig: models of the physical plant of a MeshBox++ unit (PV
// with the PVWatts v5 equations under clear-sky irradiance and seeded clouds, battery, loads, grid
// connection), device emulators that speak the real protocols, and scenarios with assertions.
//
// The plant is deterministic: it advances only when told to, by a given step, and draws randomness
// from its seed. It never imports the controller (fractals) or the runtime (firmware): the rig sees the
// controller only through the protocols, as real hardware would.
package hil
