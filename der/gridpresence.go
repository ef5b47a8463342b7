package der

import (
	"context"
	"errors"
)

// Indicator is a two-state input: a grid-present voltage relay, a door contact.
type Indicator interface {
	Read(ctx context.Context) (bool, error)
}

// WithGridPresence is the PCC meter m with the utility's presence taken from in (a voltage relay
// on the utility side of the breaker): the meter on the unit's side cannot tell an island's own
// voltage from the utility's. A meter that senses the utility side keeps doing so.
func WithGridPresence(m Meter, in Indicator) Meter { return &gridPresenceMeter{m: m, in: in} }

type gridPresenceMeter struct {
	m  Meter
	in Indicator
}

func (g *gridPresenceMeter) ReadMeter(ctx context.Context) (MeterStatus, error) {
	st, err := g.m.ReadMeter(ctx)
	present, ierr := g.in.Read(ctx)
	st.GridPresent = present
	return st, errors.Join(err, ierr)
}

// ReadUtility passes the utility side through, so a meter that senses it keeps doing so when the
// site also wires a grid-present input.
func (g *gridPresenceMeter) ReadUtility(ctx context.Context) (UtilityStatus, error) {
	us, ok := g.m.(UtilitySensor)
	if !ok {
		return UtilityStatus{}, ErrNoUtilitySensor
	}
	return us.ReadUtility(ctx)
}
