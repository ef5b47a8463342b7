package sunspec

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Client-side controls of the DER models: model 704 (DER AC controls) and model 802 (battery).
// Every control is written with Device.Write, so each is read back and a device that acknowledges
// a write but ignores it fails with ErrVerify. Controls with a revert timer write the value, the
// value to revert to, the timer and the revert enable before the enable itself, so that the
// device never runs the new value without its revert timer armed.

// Model 704's enumerations (the official definition's symbols).
const (
	disabled704 = 0
	enabled704  = 1
	wSetModW    = 1 // WSetMod WATTS
)

// revertSeconds is a revert timer in the whole seconds SunSpec takes (0 disables the revert).
func revertSeconds(revert time.Duration) (float64, error) {
	if revert < 0 || revert > math.MaxUint32*time.Second {
		return 0, fmt.Errorf("sunspec: revert timer %v outside 0..%d s", revert, uint32(math.MaxUint32))
	}
	return math.Ceil(revert.Seconds()), nil
}

// SetDERPowerLimitPct limits active power through model 704 to pct percent of WMax
// (WMaxLimPct), reverting to revertPct after revert unless written again; revert 0 leaves the
// limit until it is changed.
func (d *Device) SetDERPowerLimitPct(ctx context.Context, pct, revertPct float64, revert time.Duration) error {
	if pct < 0 || pct > 100 || revertPct < 0 || revertPct > 100 || math.IsNaN(pct) || math.IsNaN(revertPct) {
		return fmt.Errorf("sunspec: device %s: power limit %v %% (revert to %v %%) outside 0..100", d.Name, pct, revertPct)
	}
	secs, err := revertSeconds(revert)
	if err != nil {
		return err
	}
	sets := withRevert704([]Set{{Path: "WMaxLimPct", Value: pct}}, "WMaxLimPct", revertPct, secs)
	return d.Write(ctx, 704, append(sets, Set{Path: "WMaxLimPctEna", Value: enabled704})...)
}

// DisableDERPowerLimit turns model 704's active power limit off.
func (d *Device) DisableDERPowerLimit(ctx context.Context) error {
	return d.Write(ctx, 704, Set{Path: "WMaxLimPctEna", Value: disabled704})
}

// SetDERActivePower sets the active power through model 704 to w watts (WSet in watts mode,
// positive injects), reverting to revertW after revert unless written again.
func (d *Device) SetDERActivePower(ctx context.Context, w, revertW float64, revert time.Duration) error {
	if math.IsNaN(w) || math.IsInf(w, 0) || math.IsNaN(revertW) || math.IsInf(revertW, 0) {
		return fmt.Errorf("sunspec: device %s: active power set-point %v W (revert to %v W) is not a number", d.Name, w, revertW)
	}
	secs, err := revertSeconds(revert)
	if err != nil {
		return err
	}
	sets := withRevert704([]Set{{Path: "WSetMod", Value: wSetModW}, {Path: "WSet", Value: w}}, "WSet", revertW, secs)
	return d.Write(ctx, 704, append(sets, Set{Path: "WSetEna", Value: enabled704})...)
}

// DisableDERActivePower turns model 704's active power set-point off.
func (d *Device) DisableDERActivePower(ctx context.Context) error {
	return d.Write(ctx, 704, Set{Path: "WSetEna", Value: disabled704})
}

// Model 802's commands. There is no power set-point in model 802: battery power is commanded
// through the storage controls of model 124 (Hybrid.SetBatteryPower).
const (
	BatteryConnect    = 1 // SetOp CONNECT
	BatteryDisconnect = 2 // SetOp DISCONNECT

	BatteryInverterStopped = 1 // SetInvState INVERTER_STOPPED
	BatteryInverterStandby = 2 // SetInvState INVERTER_STANDBY
	BatteryInverterStarted = 3 // SetInvState INVERTER_STARTED
)

// SetBatteryReserve sets model 802's reserve band: the battery keeps its state of charge between
// minPct and maxPct percent of its energy rating (SoCRsvMin, SocRsvMax).
func (d *Device) SetBatteryReserve(ctx context.Context, minPct, maxPct float64) error {
	if !(minPct >= 0 && minPct <= maxPct && maxPct <= 100) {
		return fmt.Errorf("sunspec: device %s: battery reserve %v..%v %%: want 0 ≤ min ≤ max ≤ 100", d.Name, minPct, maxPct)
	}
	return d.Write(ctx, 802, Set{Path: "SoCRsvMin", Value: minPct}, Set{Path: "SocRsvMax", Value: maxPct})
}

// SetBatteryOperation connects (BatteryConnect) or disconnects (BatteryDisconnect) the battery
// (802 SetOp).
func (d *Device) SetBatteryOperation(ctx context.Context, op int) error {
	if op != BatteryConnect && op != BatteryDisconnect {
		return fmt.Errorf("sunspec: device %s: battery operation %d: accepted %d (connect) or %d (disconnect)", d.Name, op, BatteryConnect, BatteryDisconnect)
	}
	return d.Write(ctx, 802, Set{Path: "SetOp", Value: float64(op)})
}

// SetBatteryInverterState tells the battery what its inverter is doing (802 SetInvState:
// BatteryInverterStopped, BatteryInverterStandby or BatteryInverterStarted).
func (d *Device) SetBatteryInverterState(ctx context.Context, state int) error {
	if state < BatteryInverterStopped || state > BatteryInverterStarted {
		return fmt.Errorf("sunspec: device %s: battery inverter state %d: accepted 1..3", d.Name, state)
	}
	return d.Write(ctx, 802, Set{Path: "SetInvState", Value: float64(state)})
}

// ResetBatteryAlarms asks the battery to clear its latched alarms (802 AlmRst = 1). The battery
// sets the register back to 0 once it has done so, so the write is not compared on read-back.
func (d *Device) ResetBatteryAlarms(ctx context.Context) error {
	return d.Write(ctx, 802, Set{Path: "AlmRst", Value: 1, Pulse: true})
}

// BatteryHeartbeat writes the controller's heartbeat n (802 CtrlHb); a battery that watches it
// knows the controller is alive while n keeps changing.
func (d *Device) BatteryHeartbeat(ctx context.Context, n uint16) error {
	return d.Write(ctx, 802, Set{Path: "CtrlHb", Value: float64(n)})
}

// withRevert704 appends a model 704 control's revert points (named after its point: <name>Rvrt,
// <name>RvrtTms, <name>EnaRvrt): the revert value and timer with the revert enabled when secs > 0,
// or the revert disabled. They go before the control's own enable, so the device never runs the
// new value without its revert armed.
func withRevert704(sets []Set, name string, revertValue, secs float64) []Set {
	if secs > 0 {
		return append(sets, Set{Path: name + "Rvrt", Value: revertValue}, Set{Path: name + "RvrtTms", Value: secs},
			Set{Path: name + "EnaRvrt", Value: enabled704})
	}
	return append(sets, Set{Path: name + "EnaRvrt", Value: disabled704})
}
