// Package cli holds what every FRACTALS command shares when it reads its command line: flag parsing
// that reports a bad flag or value in one line naming the flag and what it accepts, and the exit
// statuses (2 for bad usage or input). Standard library only; no I/O beyond the writer it is given.
package cli
