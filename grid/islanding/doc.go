// Package islanding detects that a unit's part of the network has separated from the utility: under
// and over voltage, under and over frequency, rate of change of frequency (RoCoF), vector shift (a
// sudden jump of the voltage phase), and the point-of-common-coupling breaker opening. Each detection
// reports which method saw it, when the condition began and when it was detected.
//
// What a detection means: open the point-of-common-coupling breaker, so the microgrid goes on as an
// island under its grid-forming units. It does not mean that a DER ceases to energize or trips; that
// is decided by each DER's own IEEE 1547 relay (grid/ieee1547), which keeps its ride-through
// obligations. The default thresholds (under-voltage 0.88 p.u. for 0.5 s, under-frequency 59.3 Hz for
// 0.5 s, scaled at 50 Hz) therefore lie inside the category II ride-through regions on purpose: a
// microgrid that can island rides through a utility sag by islanding, and its DERs keep energizing the
// island. A site without a grid-forming unit must not use detection to cease energizing inside those
// regions; it should set the thresholds outside them (below 0.45 p.u. and 57.0 Hz for category II) or
// rely on the DER relay alone.
//
// It is a pure state machine fed with time-stamped samples (the time comes from the caller's injected
// clock); it never reads the wall clock and performs no I/O. Settings outside their ranges are refused.
package islanding
