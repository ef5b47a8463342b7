// Package sunspec speaks SunSpec over Modbus: the official information models as generated tables
// (models_gen.go, from models/*.json by `go generate`), discovery of the "SunS" marker and the model
// chain, decoding of points with scale factors and "not implemented" sentinels (read as missing,
// never as numbers), encoding of control writes with read-back verification, a register-map builder
// that the HIL rig and the tests serve, per-device polling schedules, and adapters from SunSpec
// devices to the der interfaces: Hybrid (PV and battery, through 704 when the device carries it,
// else 123 and 124) and Meter (models 201-204 and 211-214, the PCC meter). Verified control writes exist for 123 (WMaxLimPct), 124 (storage
// controls, the battery power set-point), 704 (WMaxLimPct and WSet with their revert timers,
// controls.go) and 802 (reserve band, SetOp, SetInvState, AlmRst, CtrlHb; 802 has no power
// set-point).
//
// It is the `sunspec` driver of the unit file (driver.go, der.Register): DriverConfig (the modbus
// Target, revert, poll, battery_w_discharge_positive) opens a Polled hybrid (polled at most once
// per half cycle, stale at once when the unit stops answering, model 802's heartbeat and reserve
// band after each battery write, battery802.go) and a PolledMeter.
//
// It must not make control decisions, and it never types register offsets by hand: every offset
// comes from the generated tables.
package sunspec
