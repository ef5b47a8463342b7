package gpio

import (
	"context"
	"errors"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/units"
)

// LoadMeter reports what a switched circuit draws and would draw; a relay alone cannot tell.
type LoadMeter = der.LoadMeter

// Load is a load behind a relay, as a der.Load: the relay switches it and its feedback says whether
// it is on; the power comes from Meter when there is one, else from the nominal power.
type Load struct {
	Relay   der.Switch
	Meter   LoadMeter   // optional
	Nominal units.Watts // the circuit's power when there is no meter
}

var _ der.Load = (*Load)(nil)

// ReadLoad reports the circuit.
func (l *Load) ReadLoad(ctx context.Context) (der.LoadStatus, error) {
	on, err := l.Relay.ReadSwitch(ctx)
	st := der.LoadStatus{On: on, Demand: l.Nominal}
	if l.Meter == nil {
		if on {
			st.Power = l.Nominal
		}
		return st, err
	}
	p, d, merr := l.Meter.ReadLoadPower(ctx)
	st.Power, st.Demand = p, d
	return st, errors.Join(err, merr)
}

// SetLoad switches the circuit.
func (l *Load) SetLoad(ctx context.Context, on bool) error { return l.Relay.SetSwitch(ctx, on) }
