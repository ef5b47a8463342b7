package mqtt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/units"
)

// Points and commands of EV chargers and metered load circuits.
const (
	EVConnected  = "ev.connected" // 1 while a car is plugged in
	EVPower      = "ev.power"
	EVMaxPower   = "ev.max_power"
	EVDelivered  = "ev.delivered" // Wh in this session
	EVNeeded     = "ev.needed"    // Wh asked for in this session
	EVDeadline   = "ev.deadline"  // Unix seconds; 0 when none
	CmdEVPower   = "ev.setpoint"
	LoadPower    = "load.power"
	LoadDemand   = "load.demand"
	MeterPresent = "meter.present" // 1 while the utility side is energised
)

// Charger adapts an MQTT device to der.EVCharger.
type Charger struct{ Dev *Device }

var _ der.EVCharger = (*Charger)(nil)

// ReadEV reports the charger; with no car connected the session values are zero.
func (c *Charger) ReadEV(context.Context) (der.EVStatus, error) {
	var st der.EVStatus
	conn, err := c.Dev.Value(EVConnected)
	if err != nil {
		return st, err
	}
	st.Connected = conn >= 0.5
	var errs []error
	read := func(point string) float64 {
		v, err := c.Dev.Value(point)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	st.Power, st.MaxPower = units.Watts(read(EVPower)), units.Watts(read(EVMaxPower))
	st.Delivered, st.Needed = units.WattHours(read(EVDelivered)), units.WattHours(read(EVNeeded))
	if c.Dev.HasPoint(EVDeadline) {
		if d := read(EVDeadline); d > 0 && d < math.MaxInt32*4 {
			st.Deadline = time.Unix(int64(d), 0).UTC()
		}
	}
	return st, errors.Join(errs...)
}

// SetEVPower publishes the charging power set-point in W.
func (c *Charger) SetEVPower(ctx context.Context, p units.Watts) error {
	if p < 0 || math.IsNaN(float64(p)) {
		return fmt.Errorf("mqtt: EV power %v W must be ≥ 0", float64(p))
	}
	return c.Dev.Command(ctx, CmdEVPower, float64(p))
}

// LoadMeter reads a switched circuit's power and demand (it satisfies der/gpio's LoadMeter, whose
// relay switches the circuit). Without a demand point the demand reads as the power.
type LoadMeter struct{ Dev *Device }

// ReadLoadPower reports what the circuit draws and would draw.
func (m *LoadMeter) ReadLoadPower(context.Context) (power, demand units.Watts, err error) {
	p, err := m.Dev.Value(LoadPower)
	if err != nil {
		return 0, 0, err
	}
	d := p
	if m.Dev.HasPoint(LoadDemand) {
		if d, err = m.Dev.Value(LoadDemand); err != nil {
			return units.Watts(p), 0, err
		}
	}
	return units.Watts(p), units.Watts(d), nil
}
