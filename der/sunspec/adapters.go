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

// Hybrid is a SunSpec hybrid inverter (PV, battery and AC port in one box) as a der.PVInverter and
// a der.Battery. It reads what the poller last read and writes controls directly:
//
//   - PV power is the sum of the MPPT inputs' DC power (model 160) when present, else the AC power
//     of the inverter model (103 or 113); the rating is WRtg of the nameplate (120).
//   - The PV limit is WMaxLimPct of the controls model (123) as a percentage of WMax (121) or
//     WRtg, with a revert timer so that a stalled controller does not leave the limit in place.
//   - The battery is model 802 (W positive while charging, SoC, limits) and model 701's DERMode
//     tells whether the inverter is grid-forming.
//   - The battery set-point goes to the storage controls (124) as InWRte = -OutWRte = p/WChaMax
//     with both limits enabled (StorCtl_Mod = 3), which pins the power to p, and a revert timer.
//     Both rates are percent of WChaMax. The official model 124 gives InWRte the unit "% WChaMax"
//     and OutWRte "% WDisChaMax", but WDisChaMax is no point of model 124 (nor of any model the
//     device must carry with it): 124's one power rating is WChaMax, its discharge gradient
//     WDisChaGra is "% WChaMax/sec" too, and devices that implement 124 (and our rig) use WChaMax
//     for both directions. A device whose discharge rating differs from WChaMax is clamped to
//     WChaMax when discharging.
type Hybrid struct {
	Dev *Device
	// Revert is the revert timeout written with every control, so that the inverter returns to
	// its defaults when the controller stops writing; zero disables it (not advised).
	Revert time.Duration
	// BatteryWDischargePositive is for devices whose model 802 W counts discharge positive (the
	// model says charging is positive, but devices differ); the unit file sets it per device.
	BatteryWDischargePositive bool
}

// rating is the nameplate AC rating: 120 WRtg, else 702 WMaxRtg.
func (h *Hybrid) rating() (float64, error) {
	w, err := h.number(120, "WRtg")
	if err == nil || !h.Dev.Has(702) {
		return w, err
	}
	return h.number(702, "WMaxRtg")
}

var _ der.PVInverter = (*Hybrid)(nil)
var _ der.Battery = (*Hybrid)(nil)

func (h *Hybrid) number(model uint16, path string) (float64, error) {
	b, err := h.Dev.Block(model)
	if err != nil {
		return 0, err
	}
	v, ok := b.Number(path)
	if !ok {
		return 0, fmt.Errorf("sunspec: device %s: model %d point %s not implemented", h.Dev.Name, model, path)
	}
	return v, nil
}

func (h *Hybrid) inverterModel() uint16 {
	for _, id := range []uint16{103, 113, 101, 111, 102, 112, 701} {
		if h.Dev.Has(id) {
			return id
		}
	}
	return 103
}

// ReadPV reports the PV side.
func (h *Hybrid) ReadPV(ctx context.Context) (der.PVStatus, error) {
	st := der.PVStatus{Available: -1}
	rated, err := h.rating()
	if err != nil {
		return st, err
	}
	st.Rated = units.Watts(rated)
	if h.Dev.Has(160) {
		b, err := h.Dev.Block(160)
		if err != nil {
			return st, err
		}
		// The modules fill the model; N is optional, so walk them until the layout ends.
		sum := 0.0
		for i := 0; ; i++ {
			v, ok := b.Get(fmt.Sprintf("module[%d].DCW", i))
			if !ok {
				break
			}
			if v.Valid {
				sum += v.Number
			}
		}
		st.Power = units.Watts(sum)
		return st, nil
	}
	w, err := h.number(h.inverterModel(), "W")
	st.Power = units.Watts(math.Max(w, 0))
	return st, err
}

func (h *Hybrid) wmax() (float64, error) {
	if w, err := h.number(121, "WMax"); err == nil && w > 0 {
		return w, nil
	}
	if w, err := h.number(702, "WMax"); err == nil && w > 0 {
		return w, nil
	}
	w, err := h.rating()
	if err == nil && w <= 0 {
		err = fmt.Errorf("sunspec: device %s: WRtg %v is not a rating", h.Dev.Name, w)
	}
	return w, err
}

func (h *Hybrid) revertSeconds() float64 {
	return math.Min(math.Ceil(h.Revert.Seconds()), math.MaxUint16-1)
}

// SetPVLimit writes the active power limit; the rated power or more lifts it. A device that carries
// model 704 gets WMaxLimPct there (reverting to no limit), else model 123's.
func (h *Hybrid) SetPVLimit(ctx context.Context, limit units.Watts) error {
	if limit < 0 || math.IsNaN(float64(limit)) {
		return fmt.Errorf("sunspec: device %s: PV limit %v W outside 0..rated", h.Dev.Name, float64(limit))
	}
	wmax, err := h.wmax()
	if err != nil {
		return err
	}
	pct := math.Min(100, float64(limit)/wmax*100)
	if h.Dev.Has(704) {
		if pct >= 100 {
			return h.Dev.DisableDERPowerLimit(ctx)
		}
		return h.Dev.SetDERPowerLimitPct(ctx, pct, 100, h.Revert)
	}
	if pct >= 100 {
		return h.Dev.Write(ctx, 123, Set{Path: "WMaxLimPct", Value: 100}, Set{Path: "WMaxLim_Ena", Value: 0})
	}
	return h.Dev.Write(ctx, 123, Set{Path: "WMaxLimPct", Value: pct},
		Set{Path: "WMaxLimPct_RvrtTms", Value: h.revertSeconds()}, Set{Path: "WMaxLim_Ena", Value: 1})
}

// ReadBattery reports the battery side.
func (h *Hybrid) ReadBattery(ctx context.Context) (der.BatteryStatus, error) {
	var st der.BatteryStatus
	b, err := h.Dev.Block(802)
	if err != nil {
		return st, err
	}
	need := func(path string) float64 {
		v, ok := b.Number(path)
		if !ok && err == nil {
			err = fmt.Errorf("sunspec: device %s: model 802 point %s not implemented", h.Dev.Name, path)
		}
		return v
	}
	st.Power = units.Watts(need("W"))
	if h.BatteryWDischargePositive {
		st.Power = -st.Power
	}
	st.SoC = units.Fraction(need("SoC") / 100)
	st.Capacity = units.WattHours(need("WHRtg"))
	st.MaxCharge = units.Watts(need("WChaRteMax"))
	st.MaxDischarge = units.Watts(need("WDisChaRteMax"))
	st.SoCMin, st.SoCMax = units.Fraction(0), units.Fraction(1)
	if v, ok := b.Number("SoCMin"); ok {
		st.SoCMin = units.Fraction(v / 100)
	}
	if v, ok := b.Number("SoCMax"); ok {
		st.SoCMax = units.Fraction(v / 100)
	}
	st.ChargeEff, st.DischargeEff = 1, 1
	if h.Dev.Has(701) {
		if m, e := h.Dev.Block(701); e == nil {
			if v, ok := m.Get("DERMode"); ok && v.Valid {
				st.GridForming = v.Bits&(1<<1) != 0 // bit 1: GRID_FORMING
			}
		} else if err == nil {
			err = e
		}
	}
	return st, err
}

// SetBatteryPower pins the battery's AC power to p (positive charges): through the storage
// controls of model 124 when the device carries them, else through model 704's WSet (positive
// injects, so the set-point is -p, reverting to 0 W), as on a battery inverter that speaks
// IEEE 1547-2018's models only.
func (h *Hybrid) SetBatteryPower(ctx context.Context, p units.Watts) error {
	if !h.Dev.Has(124) && h.Dev.Has(704) {
		if math.IsNaN(float64(p)) {
			return fmt.Errorf("sunspec: device %s: battery power %v W is not a number", h.Dev.Name, float64(p))
		}
		return h.Dev.SetDERActivePower(ctx, -float64(p), 0, h.Revert)
	}
	b, err := h.Dev.Block(124)
	if err != nil && !errors.Is(err, der.ErrStale) || b == nil {
		if err == nil {
			err = fmt.Errorf("sunspec: device %s: no storage controls", h.Dev.Name)
		}
		return err
	}
	wcha, ok := b.Number("WChaMax")
	if !ok || wcha <= 0 {
		return fmt.Errorf("sunspec: device %s: model 124 WChaMax not implemented or not positive", h.Dev.Name)
	}
	pct := float64(p) / wcha * 100
	if math.IsNaN(pct) {
		return fmt.Errorf("sunspec: device %s: battery power %v W is not a number", h.Dev.Name, float64(p))
	}
	// A request beyond the device's maximum gets the maximum: the controller's limits come from
	// the site configuration and may exceed what this inverter reports, and refusing would leave
	// the previous set-point in place.
	pct = math.Max(-100, math.Min(100, pct))
	return h.Dev.Write(ctx, 124, Set{Path: "InWRte", Value: pct}, Set{Path: "OutWRte", Value: -pct},
		Set{Path: "InOutWRte_RvrtTms", Value: h.revertSeconds()}, Set{Path: "StorCtl_Mod", Value: 3})
}
