package rig

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/fractals-energy/fractals/der/sunspec"
	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/internal/units"
)

// inverterModules is how many MPPT inputs (model 160 modules) the rig's inverter has.
const inverterModules = 2

// InverterModels is the model chain the rig's hybrid inverter serves, in order after "SunS".
var InverterModels = []sunspec.ModelSpec{
	{ID: 1}, {ID: 103}, {ID: 120}, {ID: 121}, {ID: 122}, {ID: 123}, {ID: 124},
	{ID: 160, Repeats: map[string]int{"module": inverterModules}}, {ID: 802},
	{ID: 701}, {ID: 702}, {ID: 703}, {ID: 704},
}

// held is a set-point a device holds for its controller, with the device's own revert timer.
type held struct {
	value  units.Watts
	active bool
	at     time.Time     // wall time of the last write
	revert time.Duration // 0: holds until changed
}

// expired reports whether the revert timer ran out at now.
func (h *held) expired(now time.Time) bool {
	return h.active && h.revert > 0 && now.Sub(h.at) > h.revert
}

// inverter is the hybrid inverter: a SunSpec map kept in step with the plant.
type inverter struct {
	m     *sunspec.Map
	plant *hil.Plant

	mu       sync.Mutex
	now      func() time.Time
	pvLimit  held
	battery  held
	reactive heldVAr // reactive.go
	errs     []error // control writes the rig could not make sense of (reported on the status page)
}

func newInverter(p *hil.Plant, now func() time.Time, serial string) (*inverter, error) {
	m, err := sunspec.NewMap(40000, InverterModels...)
	if err != nil {
		return nil, err
	}
	inv := &inverter{m: m, plant: p, now: now}
	if err := inv.nameplate(serial); err != nil {
		return nil, fmt.Errorf("rig: inverter map: %w", err)
	}
	inv.update()
	m.OnWrite(inv.onWrite)
	return inv, nil
}

// setter collects the first error of a series of map writes.
type setter struct {
	m   *sunspec.Map
	err error
}

func (s *setter) set(model uint16, path string, v float64) {
	if s.err == nil {
		s.err = s.m.Set(model, path, v)
	}
}

func (s *setter) str(model uint16, path, v string) {
	if s.err == nil {
		s.err = s.m.SetString(model, path, v)
	}
}

// nameplate writes what does not change: identity, ratings, scale factors, initial controls.
func (inv *inverter) nameplate(serial string) error {
	cfg := inv.plant.Config()
	rated := float64(inv.plant.PVRated())
	b := cfg.Battery
	s := setter{m: inv.m}
	s.str(1, "Mn", "FRACTALS")
	s.str(1, "Md", "MeshBox++ HIL hybrid")
	s.str(1, "Vr", "rig-1")
	s.str(1, "SN", serial)
	s.set(1, "DA", 1)
	s.set(103, "W_SF", 0)
	s.set(103, "Hz_SF", -3)
	s.set(103, "V_SF", -1)
	s.set(103, "A_SF", -2)
	s.set(103, "WH_SF", 0)
	s.set(120, "DERTyp", 82) // PV + storage
	s.set(120, "WRtg_SF", 0)
	s.set(120, "WRtg", rated)
	s.set(120, "VARtg_SF", 0)
	s.set(120, "VARtg", rated)
	s.set(120, "WHRtg_SF", 0)
	s.set(120, "WHRtg", float64(b.Capacity))
	s.set(120, "MaxChaRte_SF", 0)
	s.set(120, "MaxChaRte", float64(b.MaxCharge))
	s.set(120, "MaxDisChaRte_SF", 0)
	s.set(120, "MaxDisChaRte", float64(b.MaxDischarge))
	s.set(121, "WMax_SF", 0)
	s.set(121, "WMax", rated)
	s.set(121, "VRef_SF", 0)
	s.set(121, "VRef", float64(cfg.Grid.NominalVoltage))
	s.set(122, "PVConn", 1|2|4)
	s.set(122, "StorConn", 1|2|4)
	s.set(123, "WMaxLimPct_SF", -1)
	s.set(123, "WMaxLimPct", 100)
	s.set(123, "WMaxLimPct_RvrtTms", 0)
	s.set(123, "WMaxLim_Ena", 0)
	s.set(124, "WChaMax_SF", 0)
	s.set(124, "WChaMax", float64(b.MaxCharge))
	s.set(124, "InOutWRte_SF", -2)
	s.set(124, "InWRte", 0)
	s.set(124, "OutWRte", 0)
	s.set(124, "InOutWRte_RvrtTms", 0)
	s.set(124, "StorCtl_Mod", 0)
	s.set(124, "ChaState_SF", -2)
	s.set(160, "DCW_SF", 0)
	// N is the number of module blocks the map holds: the map lays them out from the length, but a
	// client that trusts N (as SunSpec allows) must see the same two.
	s.set(160, "N", inverterModules)
	s.set(802, "WHRtg_SF", 0)
	s.set(802, "WHRtg", float64(b.Capacity))
	s.set(802, "WChaDisChaMax_SF", 0)
	s.set(802, "WChaRteMax", float64(b.MaxCharge))
	s.set(802, "WDisChaRteMax", float64(b.MaxDischarge))
	s.set(802, "SoC_SF", -2)
	s.set(802, "SoCMin", float64(b.SoCMin)*100)
	s.set(802, "SoCMax", float64(b.SoCMax)*100)
	s.set(802, "W_SF", 0)
	s.set(701, "W_SF", 0)
	s.set(701, "Hz_SF", -3)
	s.set(701, "V_SF", -1)
	s.set(702, "W_SF", 0)
	s.set(702, "V_SF", 0)
	s.set(702, "WMaxRtg", rated)
	s.set(702, "WChaRteMaxRtg", float64(b.MaxCharge))
	s.set(702, "WDisChaRteMaxRtg", float64(b.MaxDischarge))
	s.set(702, "VNomRtg", float64(cfg.Grid.NominalVoltage))
	s.set(703, "ES", 1)
	s.set(704, "WMaxLimPct_SF", -1)
	s.set(704, "WMaxLimPctEna", 0)
	s.set(704, "WMaxLimPct", 100)
	s.set(704, "WMaxLimPctRvrtTms", 0)
	reactiveNameplate(&s)
	return s.err
}

// update copies the plant's state into the registers.
func (inv *inverter) update() {
	pv, bat, grid := inv.plant.PVOutput(), inv.plant.Battery(), inv.plant.Grid()
	ac := float64(pv - bat.Power) // AC port: PV out minus what the battery takes
	s := setter{m: inv.m}
	s.set(103, "W", ac)
	s.set(103, "Hz", float64(grid.Frequency))
	s.set(103, "PhVphA", float64(grid.Voltage))
	s.set(103, "A", math.Abs(ac)/math.Max(1, float64(grid.Voltage)))
	s.set(103, "St", 4) // MPPT
	half := math.Round(float64(pv) / 2)
	s.set(160, "module[0].DCW", half)
	s.set(160, "module[1].DCW", math.Round(float64(pv))-half)
	s.set(802, "W", math.Round(float64(bat.Power)))
	s.set(802, "SoC", float64(bat.SoC)*100)
	s.set(124, "ChaState", float64(bat.SoC)*100)
	mode := 0.0
	if bat.GridForming {
		mode = 2 // DERMode bit 1: grid forming
	}
	s.set(701, "DERMode", mode)
	s.set(701, "W", ac)
	s.set(701, "Hz", float64(grid.Frequency))
	s.set(701, "LNV", float64(grid.Voltage))
	showReactive(&s, inv.plant)
	if s.err != nil {
		inv.note(fmt.Errorf("rig: inverter registers: %w", s.err))
	}
}

func (inv *inverter) note(err error) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if len(inv.errs) < 16 {
		inv.errs = append(inv.errs, err)
	}
}

// number reads a point back as the inverter's firmware would; unset reads as def.
func (inv *inverter) number(model uint16, path string, def float64) float64 {
	v, err := inv.m.Get(model, path)
	if err != nil || !v.Valid {
		return def
	}
	return v.Number
}

// onWrite applies a client's control write to the held set-points.
func (inv *inverter) onWrite(model uint16, paths []string) {
	now := inv.now()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	rated := float64(inv.plant.PVRated())
	wmax := inv.number(121, "WMax", rated)
	inv.onReactiveWrite(model, paths, now, wmax)
	if touches(paths, "VarSet", "VArPct", "VArWMaxPct", "Conn") {
		return // a reactive or connection control only: the active power limits stay as they were
	}
	switch model {
	case 123:
		inv.pvLimit = held{active: inv.number(123, "WMaxLim_Ena", 0) == 1, at: now,
			value:  units.Watts(inv.number(123, "WMaxLimPct", 100) / 100 * wmax),
			revert: seconds(inv.number(123, "WMaxLimPct_RvrtTms", 0))}
	case 704:
		inv.pvLimit = held{active: inv.number(704, "WMaxLimPctEna", 0) == 1, at: now,
			value:  units.Watts(inv.number(704, "WMaxLimPct", 100) / 100 * wmax),
			revert: seconds(inv.number(704, "WMaxLimPctRvrtTms", 0))}
	case 124:
		inv.battery = held{at: now, revert: seconds(inv.number(124, "InOutWRte_RvrtTms", 0))}
		mod := int(inv.number(124, "StorCtl_Mod", 0))
		wcha := inv.number(124, "WChaMax", 0)
		// StorCtl_Mod bit 0 limits charging to InWRte, bit 1 discharging to OutWRte, both percent
		// of WChaMax: model 124 writes OutWRte's unit as "% WDisChaMax", a point it does not
		// define, and WChaMax is its one rating (see sunspec.Hybrid, which agrees). A negative rate forces the other direction. The battery runs at the point of the
		// allowed window closest to idle, so InWRte = -OutWRte = x pins it to x (see sunspec.Hybrid).
		lo, hi := math.Inf(-1), math.Inf(1)
		if mod&1 != 0 {
			hi = inv.number(124, "InWRte", 100) / 100 * wcha
		}
		if mod&2 != 0 {
			lo = -inv.number(124, "OutWRte", 100) / 100 * wcha
		}
		if mod&3 != 0 && lo <= hi {
			inv.battery.active = true
			inv.battery.value = units.Watts(math.Max(lo, math.Min(hi, 0)))
		}
	}
}

func seconds(s float64) time.Duration {
	if s <= 0 || math.IsNaN(s) {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

// hold re-applies the held set-points to the plant before each step, so that the plant's own
// revert timer (which runs on plant time, possibly sped up) never fires while the inverter's timer
// (wall time, as the controller sees it) holds; an expired timer restores the defaults.
func (inv *inverter) hold(now time.Time) {
	inv.mu.Lock()
	pv, bat := inv.pvLimit, inv.battery
	expiredPV, expiredBat := pv.expired(now), bat.expired(now)
	if expiredPV {
		inv.pvLimit.active = false
	}
	if expiredBat {
		inv.battery.active = false
	}
	inv.mu.Unlock()
	switch {
	case pv.active && !expiredPV:
		inv.plant.SetPVLimit(pv.value)
	default:
		inv.plant.SetPVLimit(inv.plant.PVRated())
	}
	switch {
	case bat.active && !expiredBat:
		inv.plant.SetBatteryPower(bat.value)
	default:
		inv.plant.SetBatteryPower(0)
	}
	if expiredPV {
		s := setter{m: inv.m}
		s.set(123, "WMaxLim_Ena", 0)
		s.set(123, "WMaxLimPct", 100)
		s.set(704, "WMaxLimPctEna", 0)
	}
	if expiredBat {
		s := setter{m: inv.m}
		s.set(124, "StorCtl_Mod", 0)
		s.set(124, "InWRte", 0)
		s.set(124, "OutWRte", 0)
	}
}

// setpoints returns what the inverter holds now.
func (inv *inverter) setpoints() (pvLimit, battery units.Watts, pvHeld, batHeld bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.pvLimit.value, inv.battery.value, inv.pvLimit.active, inv.battery.active
}
