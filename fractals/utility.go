package fractals

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/fractals-energy/fractals/der"
)

// finiteUtility downgrades a utility-side reading holding a non-number to missing.
func finiteUtility(r Reading[UtilitySide]) Reading[UtilitySide] {
	for _, v := range [...]float64{float64(r.Value.Voltage), float64(r.Value.Frequency), r.Value.PhaseDeg} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Reading[UtilitySide]{Quality: Missing, At: r.At}
		}
	}
	return r
}

// readUtility reads the utility side of the PCC from a meter that senses it (der.UtilitySensor).
// With the utility absent its values say nothing, so the reading is kept good with zero values and
// the GridPresent input decides.
func readUtility(ctx context.Context, dev der.Meter, s, prev *Snapshot, limit time.Duration, fail func(error)) {
	us, ok := dev.(der.UtilitySensor)
	if !ok {
		return
	}
	u, err := us.ReadUtility(ctx)
	if errors.Is(err, der.ErrNoUtilitySensor) {
		return // no utility-side sensor on this site: reconnection is an open transition
	}
	err = checkFinite(err, "utility side", float64(u.Voltage), float64(u.Frequency), u.PhaseDeg)
	if err != nil {
		fail(err)
		s.Utility = degrade(prev.Utility, s.At, limit)
		return
	}
	s.Utility = good(UtilitySide{Voltage: u.Voltage, Frequency: u.Frequency, PhaseDeg: u.PhaseDeg}, s.At)
}

// ReadProtection reads only what a protection tick needs, between control cycles: the PCC meter
// (with its utility side) and the PCC feedback. prev is the last sample, for stale handling.
func ReadProtection(ctx context.Context, d *Devices, now time.Time, prev *Snapshot, staleLimit time.Duration) (ProtectionSample, []error) {
	s := Snapshot{At: now}
	var errs []error
	fail := func(err error) { errs = append(errs, err) }
	if d.Meter != nil {
		readMeter(ctx, d.Meter, &s, prev, staleLimit, fail)
		readUtility(ctx, d.Meter, &s, prev, staleLimit, fail)
	}
	readPCC(ctx, d.PCC, &s, prev, staleLimit, fail)
	san := s.sanitized()
	return SampleOf(&san), errs
}
