// Package cmd holds nothing itself; its sub-directories are thin main packages: fractalsd (the unit
// daemon), hilrig (the hardware-in-the-loop rig) and fractals (the command-line tool).
package cmd
