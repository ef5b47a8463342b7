// Package scenario reads HIL scenario files: a plant (day, start, initial state of charge, PV, EV), a
// timeline of plant events (grid loss and return, a PCC contactor that sticks) and assertions on what
// the unit must show (detection time, critical energy unserved, SoC floor, frequency band, the sequence
// of island states, reconnection delay, PCC operations). Bad files are refused with file, line and
// field. It only reads and checks files; running a scenario is the firmware's (firmware.RunScenario).
package scenario
