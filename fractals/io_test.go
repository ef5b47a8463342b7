package fractals

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/dertest"
	"github.com/fractals-energy/fractals/internal/units"
)

// failing are the faults of a battery that stopped answering.
var failing = dertest.Faults{ReadErr: der.ErrStale, SetErr: errors.New("battery: no answer")}

func TestReadDegradesToStaleThenMissing(t *testing.T) {
	b := dertest.NewBattery(der.BatteryStatus{SoC: 0.6, Power: 100})
	d := Devices{Battery: b}
	ctx := context.Background()
	s1, errs := Read(ctx, &d, t0, &Snapshot{}, 10*time.Second)
	if len(errs) != 0 || !s1.SoC.Good() || s1.SoC.Value != 0.6 {
		t.Fatalf("healthy read: %+v %v", s1.SoC, errs)
	}
	if s1.PVPower.Quality != Missing {
		t.Fatal("a device that is not there must read missing")
	}
	b.SetFaults(failing)
	s2, errs := Read(ctx, &d, t0.Add(5*time.Second), &s1, 10*time.Second)
	if len(errs) != 1 || !errors.Is(errs[0], der.ErrStale) {
		t.Fatalf("want the device error back, got %v", errs)
	}
	if s2.SoC.Quality != Stale || s2.SoC.Value != 0.6 || !s2.SoC.At.Equal(t0) {
		t.Fatalf("after a failed read the last value must be kept as stale: %+v", s2.SoC)
	}
	s3, _ := Read(ctx, &d, t0.Add(11*time.Second), &s2, 10*time.Second)
	if s3.SoC.Quality != Missing || s3.SoC.Value != 0 {
		t.Fatalf("older than the stale limit must be missing: %+v", s3.SoC)
	}
}

func TestWriterDeadbandRefreshRampAndRetry(t *testing.T) {
	b := dertest.NewBattery(der.BatteryStatus{SoC: 0.6, Power: 100})
	d := Devices{Battery: b}
	w := NewWriter(WriterConfig{Deadband: 20, Refresh: 10 * time.Second, Ramp: 1000})
	ctx := context.Background()
	at := t0
	write := func(p units.Watts) {
		at = at.Add(time.Second)
		w.Write(ctx, &d, Commands{BatteryPower: p}, at)
	}
	write(0)
	write(10) // inside the dead-band
	if b.Commands() != 1 {
		t.Fatalf("dead-band ignored: %d writes", b.Commands())
	}
	write(3000) // ramp: at most 1000 W/s × 2 s since the last write
	if got := b.Setpoint(); got != 2000 {
		t.Fatalf("ramp-limited write %v, want 2000", got)
	}
	write(3000)
	if got := b.Setpoint(); got != 3000 {
		t.Fatalf("second ramp step %v, want 3000", got)
	}
	n := b.Commands()
	for i := 0; i < 9; i++ {
		write(3005)
	}
	if b.Commands() != n {
		t.Fatalf("rewrote inside the dead-band before refresh: %d writes", b.Commands()-n)
	}
	write(3005)
	if b.Commands() != n+1 {
		t.Fatal("no refresh after 10 s: the device's revert timer would fire")
	}
	// Zero is exact even inside the dead-band: idle is a safety state.
	write(3000)
	w2 := NewWriter(WriterConfig{Deadband: 20, Refresh: time.Hour})
	w2.Write(ctx, &d, Commands{BatteryPower: 15}, at)
	w2.Write(ctx, &d, Commands{BatteryPower: 0}, at.Add(time.Second))
	if got := b.Setpoint(); got != 0 {
		t.Fatalf("zero inside the dead-band not written: last %v", got)
	}
	// A failed write is retried next cycle.
	b.SetFaults(failing)
	_, errs := w.Write(ctx, &d, Commands{BatteryPower: -500}, at.Add(2*time.Second))
	if len(errs) != 1 {
		t.Fatalf("write error not reported: %v", errs)
	}
	b.SetFaults(dertest.Faults{})
	w.Write(ctx, &d, Commands{BatteryPower: -500}, at.Add(3*time.Second))
	if got := b.Setpoint(); got != -500 {
		t.Fatalf("not retried after a failure: last %v", got)
	}
}

func TestEnergyIntegratesGoodReadingsOnly(t *testing.T) {
	s := snap()
	s.PVPower = good[units.Watts](1000, s.At)
	s.BatteryPower = good[units.Watts](-500, s.At)
	s.GridPower = Reading[units.Watts]{Value: 9999, Quality: Stale}
	var e Energy
	e.Add(&s, time.Hour)
	if e.PV != 1000 || e.BatteryDischarge != 500 || e.BatteryCharge != 0 || e.Load != 335 || e.GridImport != 0 {
		t.Fatalf("energy %+v", e)
	}
}

// FuzzStep: whatever the devices report, Step returns finite commands inside the hardware's limits and
// never switches the critical load off.
func FuzzStep(f *testing.F) {
	f.Add(0.5, 0.0, 300.0, 20.0, 15.0, true, true, 230.0, 50.0, 5000.0, 0.0, 3600.0, uint8(0))
	f.Add(math.NaN(), math.Inf(-1), 300.0, 20.0, 15.0, true, true, math.NaN(), 50.0, math.NaN(), 0.0, 3600.0, uint8(40))
	f.Add(-1.0, 1e12, -5.0, math.NaN(), math.Inf(1), false, true, 0.0, 0.0, -1.0, 1e9, -10.0, uint8(255))
	f.Fuzz(func(t *testing.T, soc, pv, crit, wifi, storage float64, gridPresent, evOn bool, volts, hz, evNeed, evDone, deadlineSec float64, quality uint8) {
		cfg := DefaultConfig()
		s := snap()
		s.SoC = Reading[units.Fraction]{Value: units.Fraction(soc), Quality: Quality(quality % 3), At: s.At}
		s.PVAvailable = Reading[units.Watts]{Value: units.Watts(pv), Quality: Quality(quality / 3 % 3), At: s.At}
		for k, d := range []float64{crit, wifi, storage} {
			s.Loads[k].Demand = good(units.Watts(d), s.At)
		}
		s.GridPresent = Reading[bool]{Value: gridPresent, Quality: Quality(quality / 9 % 3), At: s.At}
		s.GridVoltage, s.GridFrequency = good(units.Volts(volts), s.At), good(units.Hertz(hz), s.At)
		if !math.IsNaN(deadlineSec) && math.Abs(deadlineSec) < 1e9 {
			s = withEV(s, units.WattHours(evNeed), units.WattHours(evDone), 7400, s.At.Add(time.Duration(deadlineSec*float64(time.Second))))
			s.EVConnected = good(evOn, s.At)
		}
		st := State{Mode: Mode(quality / 27 % 2)}
		_, c, _ := Step(&cfg, st, &s)
		for _, v := range []units.Watts{c.PVLimit, c.BatteryPower, c.EVPower} {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("non-finite command %+v", c)
			}
		}
		if c.BatteryPower > cfg.BatteryMaxCharge || c.BatteryPower < -cfg.BatteryMaxDischarge {
			t.Fatalf("battery set-point %v outside [-%v, %v]", c.BatteryPower, cfg.BatteryMaxDischarge, cfg.BatteryMaxCharge)
		}
		if c.EVPower < 0 || c.EVPower > 7400 || c.PVLimit < 0 {
			t.Fatalf("commands out of range %+v", c)
		}
		if !c.LoadOn[LoadCritical] {
			t.Fatal("critical load switched off")
		}
	})
}

// nanPV reports a NaN power once it is told to: a broken register, a bad JSON field.
type nanPV struct{ broken bool }

func (p *nanPV) ReadPV(context.Context) (der.PVStatus, error) {
	if p.broken {
		return der.PVStatus{Power: units.Watts(math.NaN()), Rated: 4000}, nil
	}
	return der.PVStatus{Power: 1200, Available: 1500, Rated: 4000}, nil
}

func (p *nanPV) SetPVLimit(context.Context, units.Watts) error { return nil }

func TestReadTurnsNonFiniteValuesIntoAFailedRead(t *testing.T) {
	pv := &nanPV{}
	d := Devices{PV: pv}
	s1, _ := Read(context.Background(), &d, t0, &Snapshot{}, 10*time.Second)
	pv.broken = true
	s2, errs := Read(context.Background(), &d, t0.Add(time.Second), &s1, 10*time.Second)
	if len(errs) != 1 || !contains(errs[0].Error(), "NaN") {
		t.Fatalf("a NaN reading must be reported as a read error, got %v", errs)
	}
	if s2.PVPower.Quality != Stale || s2.PVPower.Value != 1200 {
		t.Fatalf("after a NaN reading the last good value stays as stale, got %+v", s2.PVPower)
	}
	var e Energy
	e.Add(&s2, time.Hour)
	if math.IsNaN(float64(e.PV)) {
		t.Fatal("a NaN reading reached the energy counters")
	}
}

// unratedPV does not know its nameplate.
type unratedPV struct{}

func (unratedPV) ReadPV(context.Context) (der.PVStatus, error) {
	return der.PVStatus{Power: 800, Available: -1}, nil
}
func (unratedPV) SetPVLimit(context.Context, units.Watts) error { return nil }

func TestUnknownPVRatingSetsNoLimitInsteadOfZero(t *testing.T) {
	d := Devices{PV: unratedPV{}}
	s, errs := Read(context.Background(), &d, t0, &Snapshot{}, 10*time.Second)
	if len(errs) != 0 || s.PVRated.Quality != Missing || !s.PVPower.Good() || s.PVAvailable.Quality != Missing {
		t.Fatalf("unknown rating and availability must read missing, power good: %+v %+v %+v", s.PVRated, s.PVPower, s.PVAvailable)
	}
	full := snap()
	full.PVRated, full.PVPower, full.PVAvailable = s.PVRated, s.PVPower, s.PVAvailable
	cfg := DefaultConfig()
	_, c, _ := Step(&cfg, State{}, &full)
	if c.PVLimit < 800 {
		t.Fatalf("an unknown rating limited PV to %v", c.PVLimit)
	}
}
