// Package fractals is the controller of one MeshBox++ unit: the control cycle (read every device into
// an immutable Snapshot, run the pure Step, write the resulting Commands, record), the controllers and
// their arbitration in a fixed priority order (protection › islanding › reserve state of charge ›
// critical loads › the unit's own services › market schedule › optimisation), the islanding state
// machine, and later market participation and settlement of delivered energy.
//
// Step is a pure function of (state, snapshot, configuration): it reads no clock, does no I/O and
// allocates nothing on the steady path, so the same code runs on hardware, in the HIL rig and in the
// simulator. Reading and writing devices happens only in Read and Writer, through the der interfaces.
package fractals
