// Package units gives physical quantities their own types — power in watts, energy in watt-hours,
// voltage, frequency, per-unit values, state of charge and prices per kWh — so that a watt is never
// added to a watt-hour by accident. Conversions between them name the physics they perform
// (power × duration = energy). It imports the standard library only and does no I/O.
package units
