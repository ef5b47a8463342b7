// Package fractals is the controller of one MeshBox++ unit: the control cycle (read every device into
// an immutable Snapshot, run the pure Step, write the resulting Commands, record), the controllers and
// their arbitration in a fixed priority order (protection › islanding › reserve state of charge ›
// critical loads › the unit's own services › market schedule › optimisation), and protection and
// islanding: Protect is the protection tick (the IEEE 1547 relay, the PCC island detector and the
// enter-service wait from grid/, held as values in State.Protection) and moves the island state
// machine (connected, opening, islanded, synchronising, closing, stuck_closed, blackout), every
// transition an event with its reason; Step runs one tick on each cycle's snapshot, the firmware more
// between cycles. Islanded, the unit's services are degraded in steps (ServiceStep) before their
// relays are cut, and load relays are supervised against their feedback.
//
// Step is a pure function of (state, snapshot, configuration): it reads no clock, does no I/O and
// allocates nothing on the steady path, so the same code runs on hardware, in the HIL rig and in the
// simulator. Reading and writing devices happens only in Read and Writer, through the der interfaces.
package fractals
