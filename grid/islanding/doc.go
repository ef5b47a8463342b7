// Package islanding detects that a unit's part of the network has separated from the utility: under
// and over voltage, under and over frequency, rate of change of frequency (RoCoF), vector shift (a
// sudden jump of the voltage phase), and the point-of-common-coupling breaker opening. Each detection
// reports which method saw it, when the condition began and when it was detected.
//
// It is a pure state machine fed with time-stamped samples (the time comes from the caller's injected
// clock); it never reads the wall clock and performs no I/O. Settings outside their ranges are refused.
package islanding
