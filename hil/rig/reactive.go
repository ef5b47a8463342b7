package rig

import (
	"strings"
	"time"

	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/internal/units"
)

// The rig inverter's reactive power controls, as a SunSpec device carries them: model 704's
// constant-var set-point (VarSetEna, VarSetMod VARS or W_MAX_PCT, VarSet or VarSetPct, its revert)
// and model 123's VArWMaxPct (VArPct_Ena, VArPct_Mod WMax, VArPct_RvrtTms). The held value goes to
// the plant's PV inverter (Plant.SetReactivePower) and reads back in model 103's VAr.

// heldVAr is a reactive power set-point the inverter holds, with its own revert timer.
type heldVAr struct {
	value  units.VoltAmperesReactive
	active bool
	at     time.Time
	revert time.Duration
}

func (h *heldVAr) expired(now time.Time) bool {
	return h.active && h.revert > 0 && now.Sub(h.at) > h.revert
}

// touches is true when a write touched a point whose name starts with one of the prefixes.
func touches(paths []string, prefixes ...string) bool {
	for _, p := range paths {
		for _, pre := range prefixes {
			if strings.HasPrefix(p, pre) {
				return true
			}
		}
	}
	return false
}

// reactiveNameplate writes the reactive controls' scale factors and defaults (off).
func reactiveNameplate(s *setter) {
	s.set(103, "VAr_SF", 0)
	s.set(123, "VArPct_SF", -1)
	s.set(123, "VArPct_Ena", 0)
	s.set(704, "VarSet_SF", 0)
	s.set(704, "VarSetPct_SF", -1)
	s.set(704, "VarSetEna", 0)
	s.set(123, "Conn", 1)
}

// onReactiveWrite updates the held reactive set-point after a write to model 704's or 123's
// reactive points. Call with inv.mu held.
func (inv *inverter) onReactiveWrite(model uint16, paths []string, now time.Time, wmax float64) {
	switch {
	case model == 704 && touches(paths, "VarSet"):
		h := heldVAr{active: inv.number(704, "VarSetEna", 0) == 1, at: now}
		switch inv.number(704, "VarSetMod", -1) {
		case varSetModVars:
			h.value = units.VoltAmperesReactive(inv.number(704, "VarSet", 0))
		case varSetModWMaxPct:
			h.value = units.VoltAmperesReactive(inv.number(704, "VarSetPct", 0) / 100 * wmax)
		default:
			h.active = false // the modes against VArMax or VAAval: this inverter does not take them
		}
		if inv.number(704, "VarSetEnaRvrt", 0) == 1 {
			h.revert = seconds(inv.number(704, "VarSetRvrtTms", 0))
		}
		inv.reactive = h
	case model == 123 && touches(paths, "Conn"):
		inv.plant.SetEnergize(inv.number(123, "Conn", 1) == 1)
	case model == 123 && touches(paths, "VArPct", "VArWMaxPct"):
		h := heldVAr{active: inv.number(123, "VArPct_Ena", 0) == 1 && inv.number(123, "VArPct_Mod", 0) == varPctModWMax, at: now,
			value:  units.VoltAmperesReactive(inv.number(123, "VArWMaxPct", 0) / 100 * wmax),
			revert: seconds(inv.number(123, "VArPct_RvrtTms", 0))}
		inv.reactive = h
	}
}

// Model 704's VarSetMod and 123's VArPct_Mod symbols the rig takes.
const (
	varSetModWMaxPct = 0
	varSetModVars    = 4
	varPctModWMax    = 1
)

// holdReactive re-applies the held reactive set-point to the plant; an expired one returns it to
// 0 var and clears the enables, as the device's revert does.
func (inv *inverter) holdReactive(now time.Time) {
	inv.mu.Lock()
	h := inv.reactive
	expired := h.expired(now)
	if expired {
		inv.reactive.active = false
	}
	inv.mu.Unlock()
	q := units.VoltAmperesReactive(0)
	if h.active && !expired {
		q = h.value
	}
	inv.plant.SetReactivePower(q)
	if expired {
		s := setter{m: inv.m}
		s.set(704, "VarSetEna", 0)
		s.set(123, "VArPct_Ena", 0)
	}
}

// reactiveHeld returns the reactive set-point the inverter holds now.
func (inv *inverter) reactiveHeld() (units.VoltAmperesReactive, bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.reactive.value, inv.reactive.active
}

// showReactive copies the plant's reactive output into model 103.
func showReactive(s *setter, p *hil.Plant) { s.set(103, "VAr", float64(p.ReactivePower())) }
