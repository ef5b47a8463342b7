// Command hilrig is the hardware-in-the-loop rig: it runs a simulated MeshBox++ plant on its own
// clock (real time, or faster with --speed) and serves its devices over real protocols (SunSpec over
// Modbus TCP, MQTT, GPIO over the pin line protocol) so that the unmodified daemon can run against it.
// When ready it prints one JSON line per device, then one for its truth/fault HTTP API, and runs
// until interrupted.
package main
