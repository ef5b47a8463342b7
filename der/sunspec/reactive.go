package sunspec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/units"
)

// Reactive power and connection controls: model 704's constant-var set-point (VarSet in vars, VarSetMod VARS) and,
// for devices without 704, model 123's VArWMaxPct (percent of WMax, VArPct_Mod WMax).
// Model 123 also carries Conn, the connect/disconnect control (SetEnergize).

// varSetModVars is model 704's VarSetMod symbol VARS: VarSet is in vars.
const varSetModVars = 4

// varPctModWMax is model 123's VArPct_Mod symbol WMax: VArWMaxPct is percent of WMax.
const varPctModWMax = 1

// ErrNoReactiveControl is returned for a non-zero reactive set-point to a device that carries
// neither model 704 nor model 123.
var ErrNoReactiveControl = errors.New("sunspec: the device has no reactive power control (model 704 or 123)")

// SetDERReactivePower sets the reactive power through model 704 to vars (VarSet in VARS mode,
// positive injecting), reverting to revertVars after revert unless written again.
func (d *Device) SetDERReactivePower(ctx context.Context, vars, revertVars float64, revert time.Duration) error {
	if math.IsNaN(vars) || math.IsInf(vars, 0) || math.IsNaN(revertVars) || math.IsInf(revertVars, 0) {
		return fmt.Errorf("sunspec: device %s: reactive power set-point %v var (revert to %v var) is not a number", d.Name, vars, revertVars)
	}
	secs, err := revertSeconds(revert)
	if err != nil {
		return err
	}
	sets := withRevert704([]Set{{Path: "VarSetMod", Value: varSetModVars}, {Path: "VarSet", Value: vars}}, "VarSet", revertVars, secs)
	return d.Write(ctx, 704, append(sets, Set{Path: "VarSetEna", Value: enabled704})...)
}

// DisableDERReactivePower turns model 704's reactive power set-point off.
func (d *Device) DisableDERReactivePower(ctx context.Context) error {
	return d.Write(ctx, 704, Set{Path: "VarSetEna", Value: disabled704})
}

var _ der.ReactivePowerSetter = (*Hybrid)(nil)

// implements is true when the device carries model and implements its point (a scale factor a
// device that has the model but not the control leaves unimplemented). A model the poller has not
// read yet counts as implemented: the write reads it afresh and fails clearly if it is not.
func (h *Hybrid) implements(model uint16, point string) bool {
	if !h.Dev.Has(model) {
		return false
	}
	b, err := h.Dev.Block(model)
	if err != nil {
		return true
	}
	v, ok := b.Get(point)
	return ok && v.Valid
}

// SetReactivePower writes the reactive power set-point (positive injecting, the IEEE 1547 volt-var
// response): to model 704 when the device implements its VarSet, reverting to 0 var, else as a
// percentage of WMax to model 123's VArWMaxPct with its revert timer. Zero to a device with neither is
// nothing to do.
func (h *Hybrid) SetReactivePower(ctx context.Context, q units.VoltAmperesReactive) error {
	vars := float64(q)
	if math.IsNaN(vars) || math.IsInf(vars, 0) {
		return fmt.Errorf("sunspec: device %s: reactive power %v var is not a number", h.Dev.Name, vars)
	}
	switch {
	case h.implements(704, "VarSet_SF"):
		return h.Dev.SetDERReactivePower(ctx, vars, 0, h.Revert)
	case h.implements(123, "VArPct_SF"):
		wmax, err := h.wmax()
		if err != nil {
			return err
		}
		pct := math.Max(-100, math.Min(100, vars/wmax*100))
		if pct == 0 {
			return h.Dev.Write(ctx, 123, Set{Path: "VArWMaxPct", Value: 0}, Set{Path: "VArPct_Ena", Value: 0})
		}
		return h.Dev.Write(ctx, 123, Set{Path: "VArPct_Mod", Value: varPctModWMax}, Set{Path: "VArWMaxPct", Value: pct},
			Set{Path: "VArPct_RvrtTms", Value: h.revertSeconds()}, Set{Path: "VArPct_Ena", Value: 1})
	case vars == 0:
		return nil
	}
	return fmt.Errorf("sunspec: device %s: %w", h.Dev.Name, ErrNoReactiveControl)
}

// Model 123's Conn symbols.
const (
	connDisconnect = 0
	connConnect    = 1
)

var _ der.Energizer = (*Hybrid)(nil)

// SetEnergize writes model 123's connection control: Conn DISCONNECT makes the inverter cease to
// energize, CONNECT lets it energize again (a tripped grid-forming inverter black-starts on it). No
// revert timer: a disconnect that lapsed by itself could energize a dead line the PCC is stuck on.
func (h *Hybrid) SetEnergize(ctx context.Context, on bool) error {
	if !h.Dev.Has(123) {
		if on {
			return nil // nothing to undo on a device without the control
		}
		return fmt.Errorf("sunspec: device %s: no model 123 to make it cease to energize", h.Dev.Name)
	}
	conn := float64(connDisconnect)
	if on {
		conn = connConnect
	}
	return h.Dev.Write(ctx, 123, Set{Path: "Conn_RvrtTms", Value: 0}, Set{Path: "Conn", Value: conn})
}
