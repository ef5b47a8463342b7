package fractals

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/fractals-energy/fractals/der"
)

// Devices are the unit's devices as the controller sees them. A nil device reads as missing and is
// never written.
type Devices struct {
	PV      der.PVInverter
	Battery der.Battery
	Meter   der.Meter
	PCC     der.Switch
	Loads   [NumLoads]der.Load
	EV      der.EVCharger
	// Services carries the service degradation step to the unit's own services (optional).
	Services der.ServiceDegrader
}

// Read reads every device once and builds the cycle's snapshot. A device that fails keeps its last
// good values marked stale (missing once older than staleLimit); read errors are returned joined
// for logging, never acted on here.
func Read(ctx context.Context, d *Devices, now time.Time, prev *Snapshot, staleLimit time.Duration) (Snapshot, []error) {
	s := Snapshot{At: now}
	var errs []error
	fail := func(err error) { errs = append(errs, err) }
	readPV(ctx, d.PV, &s, prev, staleLimit, fail)
	readBattery(ctx, d.Battery, &s, prev, staleLimit, fail)
	readMeter(ctx, d.Meter, &s, prev, staleLimit, fail)
	if d.Meter != nil {
		readUtility(ctx, d.Meter, &s, prev, staleLimit, fail)
	}
	readPCC(ctx, d.PCC, &s, prev, staleLimit, fail)
	for k := range d.Loads {
		readLoad(ctx, d.Loads[k], &s.Loads[k], &prev.Loads[k], now, staleLimit, fail)
	}
	readEV(ctx, d.EV, &s, prev, staleLimit, fail)
	return s, errs
}

func readPV(ctx context.Context, dev der.PVInverter, s, prev *Snapshot, limit time.Duration, fail func(error)) {
	if dev == nil {
		return
	}
	st, err := dev.ReadPV(ctx)
	err = checkFinite(err, "pv", float64(st.Power), float64(st.Available), float64(st.Rated))
	if err != nil {
		fail(err)
		s.PVPower = degrade(prev.PVPower, s.At, limit)
		s.PVAvailable = degrade(prev.PVAvailable, s.At, limit)
		s.PVRated = degrade(prev.PVRated, s.At, limit)
		return
	}
	s.PVPower = good(st.Power, s.At)
	// A rating of zero or less is a device that does not know its own nameplate: leave it missing (the
	// controller then sets no limit) rather than let it cap PV at 0 W.
	if st.Rated > 0 {
		s.PVRated = good(st.Rated, s.At)
	}
	if st.Available >= 0 {
		s.PVAvailable = good(st.Available, s.At)
	}
}

func readBattery(ctx context.Context, dev der.Battery, s, prev *Snapshot, limit time.Duration, fail func(error)) {
	if dev == nil {
		return
	}
	st, err := dev.ReadBattery(ctx)
	err = checkFinite(err, "battery", float64(st.Power), float64(st.SoC))
	if err != nil {
		fail(err)
		s.BatteryPower = degrade(prev.BatteryPower, s.At, limit)
		s.SoC = degrade(prev.SoC, s.At, limit)
		s.GridForming = degrade(prev.GridForming, s.At, limit)
		return
	}
	s.BatteryPower, s.SoC, s.GridForming = good(st.Power, s.At), good(st.SoC, s.At), good(st.GridForming, s.At)
}

func readMeter(ctx context.Context, dev der.Meter, s, prev *Snapshot, limit time.Duration, fail func(error)) {
	if dev == nil {
		return
	}
	st, err := dev.ReadMeter(ctx)
	err = checkFinite(err, "meter", float64(st.Power), float64(st.Voltage), float64(st.Frequency))
	if err != nil {
		fail(err)
		s.GridPower = degrade(prev.GridPower, s.At, limit)
		s.GridVoltage = degrade(prev.GridVoltage, s.At, limit)
		s.GridFrequency = degrade(prev.GridFrequency, s.At, limit)
		s.GridPresent = degrade(prev.GridPresent, s.At, limit)
		return
	}
	s.GridPower, s.GridVoltage = good(st.Power, s.At), good(st.Voltage, s.At)
	s.GridFrequency, s.GridPresent = good(st.Frequency, s.At), good(st.GridPresent, s.At)
}

func readPCC(ctx context.Context, dev der.Switch, s, prev *Snapshot, limit time.Duration, fail func(error)) {
	if dev == nil {
		return
	}
	closed, err := dev.ReadSwitch(ctx)
	if err != nil {
		fail(err)
		s.PCCClosed = degrade(prev.PCCClosed, s.At, limit)
		return
	}
	s.PCCClosed = good(closed, s.At)
}

func readLoad(ctx context.Context, dev der.Load, r, prev *LoadReadings, now time.Time, limit time.Duration, fail func(error)) {
	if dev == nil {
		return
	}
	st, err := dev.ReadLoad(ctx)
	err = checkFinite(err, "load", float64(st.Power), float64(st.Demand))
	if err != nil {
		fail(err)
		r.Power = degrade(prev.Power, now, limit)
		r.Demand = degrade(prev.Demand, now, limit)
		r.On = degrade(prev.On, now, limit)
		return
	}
	r.Power, r.Demand, r.On = good(st.Power, now), good(st.Demand, now), good(st.On, now)
}

func readEV(ctx context.Context, dev der.EVCharger, s, prev *Snapshot, limit time.Duration, fail func(error)) {
	if dev == nil {
		return
	}
	st, err := dev.ReadEV(ctx)
	err = checkFinite(err, "ev", float64(st.Power), float64(st.MaxPower), float64(st.Delivered), float64(st.Needed))
	if err != nil {
		fail(err)
		s.EVConnected = degrade(prev.EVConnected, s.At, limit)
		s.EVPower = degrade(prev.EVPower, s.At, limit)
		s.EVMaxPower = degrade(prev.EVMaxPower, s.At, limit)
		s.EVDelivered = degrade(prev.EVDelivered, s.At, limit)
		s.EVNeeded = degrade(prev.EVNeeded, s.At, limit)
		s.EVDeadline = degrade(prev.EVDeadline, s.At, limit)
		return
	}
	s.EVConnected, s.EVPower, s.EVMaxPower = good(st.Connected, s.At), good(st.Power, s.At), good(st.MaxPower, s.At)
	s.EVDelivered, s.EVNeeded = good(st.Delivered, s.At), good(st.Needed, s.At)
	if !st.Deadline.IsZero() {
		s.EVDeadline = good(st.Deadline, s.At)
	}
}

// checkFinite turns a reading that holds NaN or an infinity into a failed read: a device that reports
// a non-number has told us nothing, and its last good values stay (as stale) rather than poisoning
// counters and set-points.
func checkFinite(err error, device string, values ...float64) error {
	if err != nil {
		return err
	}
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: value %d of its reading is %v", device, i, v)
		}
	}
	return nil
}
