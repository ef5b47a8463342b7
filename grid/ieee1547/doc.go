// Package ieee1547 holds the IEEE 1547-2018 interconnection functions of a distributed energy resource
// as pure, time-stepped functions: voltage and frequency trip (OV2, OV1, UV1, UV2, OF2, OF1, UF1, UF2)
// with the default settings and allowed ranges of abnormal-performance categories I, II and III; the
// voltage and frequency ride-through regions (continuous, mandatory, permissive, momentary cessation);
// the volt-var, volt-watt and frequency-droop responses with their defaults and response times; and the
// enter-service conditions (voltage and frequency window, delay, ramp).
//
// Every function takes the measurement and the elapsed time as arguments (a protection tick, 100 ms by
// default, 20 ms to 1 s); nothing here reads a clock, sleeps, or performs I/O. Settings outside the
// ranges the standard allows are refused with an error that names the setting and the range.
//
// A sample whose voltage or frequency is NaN or infinite is a failed measurement: the relay flags it
// and has the DER cease to energize; trip timers neither start nor reset on it, and running ones go on
// counting, so a failing meter can neither keep a DER energized nor hold off a trip.
//
// Voltages are per unit of nominal, frequencies in hertz, times as time.Duration. The standard's tables
// are for 60 Hz and are kept here as it states them; a 50 Hz system (the FRACTALS plant) uses the
// constructors that take the nominal frequency (DefaultSettingsAt(c, Nominal50Hz),
// DefaultFrequencyTripAt, DefaultFrequencyDroopAt, DefaultEnterServiceAt, FrequencyRegionAt), which
// scale every frequency setting, allowed range and region boundary by f/60 (OF2 62.0 Hz -> 51.67 Hz).
// The zero Nominal field means 60 Hz, so existing 60 Hz callers are unchanged.
package ieee1547
