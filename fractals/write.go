package fractals

import (
	"context"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// WriterConfig shapes how commands reach the devices.
type WriterConfig struct {
	// Deadband: a power set-point that moved less than this is not re-written (saves bus traffic and
	// device flash wear).
	Deadband units.Watts
	// Refresh re-sends unchanged commands this often, well inside the devices' revert timers, so that a
	// stalled controller lets the hardware fall back to its safe state while a live one never does.
	Refresh time.Duration
	// Ramp limits how fast battery and EV set-points move, in W per second (0: no limit).
	Ramp units.Watts
}

// DefaultWriterConfig suits the default plant: 1 s cycle, 60 s revert timers.
func DefaultWriterConfig() WriterConfig {
	return WriterConfig{Deadband: 20, Refresh: 15 * time.Second, Ramp: 5000}
}

const (
	outPV = iota
	outBattery
	outEV
	outPCC
	outLoad0
	numOutputs = outLoad0 + int(NumLoads)
)

// Writer writes commands to devices with dead-bands, ramp limits and periodic refresh. It remembers
// what each device was last told successfully; a failed write is retried on the next cycle.
type Writer struct {
	cfg     WriterConfig
	last    Commands
	lastAt  [numOutputs]time.Time
	written [numOutputs]bool
	island  islandOutputs
}

// NewWriter returns a writer that has written nothing yet.
func NewWriter(cfg WriterConfig) *Writer { return &Writer{cfg: cfg} }

// Last returns what the devices were last told.
func (w *Writer) Last() Commands { return w.last }

// Write sends what changed (or is due for refresh) and returns the commands as the devices now hold
// them, with the errors of failed writes.
func (w *Writer) Write(ctx context.Context, d *Devices, c Commands, now time.Time) (Commands, []error) {
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if d.PV != nil {
		if v, due := w.power(outPV, w.last.PVLimit, c.PVLimit, now, false); due {
			w.commit(outPV, now, d.PV.SetPVLimit(ctx, v), func() { w.last.PVLimit = v }, note)
		}
	}
	if d.Battery != nil {
		if v, due := w.power(outBattery, w.last.BatteryPower, c.BatteryPower, now, true); due {
			w.commit(outBattery, now, d.Battery.SetBatteryPower(ctx, v), func() { w.last.BatteryPower = v }, note)
		}
	}
	if d.EV != nil {
		if v, due := w.power(outEV, w.last.EVPower, c.EVPower, now, true); due {
			w.commit(outEV, now, d.EV.SetEVPower(ctx, v), func() { w.last.EVPower = v }, note)
		}
	}
	if d.PCC != nil && (w.switchDue(outPCC, w.last.PCCClosed, c.PCCClosed, now) || c.Redrive.PCC) {
		on := c.PCCClosed
		w.commit(outPCC, now, d.PCC.SetSwitch(ctx, on), func() { w.last.PCCClosed = on }, note)
	}
	for k := range d.Loads {
		if d.Loads[k] == nil {
			continue
		}
		i := outLoad0 + k
		if w.switchDue(i, w.last.LoadOn[k], c.LoadOn[k], now) || c.Redrive.Loads[k] {
			on := c.LoadOn[k]
			w.commit(i, now, d.Loads[k].SetLoad(ctx, on), func() { w.last.LoadOn[k] = on }, note)
		}
	}
	w.writeIsland(ctx, d, c, now, note)
	return w.last, errs
}

// power returns the value to write for a power output and whether a write is due.
func (w *Writer) power(i int, last, want units.Watts, now time.Time, ramped bool) (units.Watts, bool) {
	if !w.written[i] {
		return want, true
	}
	v := want
	if ramped && w.cfg.Ramp > 0 {
		step := units.Watts(float64(w.cfg.Ramp) * now.Sub(w.lastAt[i]).Seconds())
		v = v.Clamp(last-step, last+step)
	}
	moved := (v - last).Abs()
	return v, moved > w.cfg.Deadband || (moved > 0 && want == v && exactTarget(want)) || now.Sub(w.lastAt[i]) >= w.cfg.Refresh
}

// exactTarget is true for set-points that must be reached exactly even inside the dead-band: zero
// (idle, stop charging) is a safety state, not an approximation.
func exactTarget(v units.Watts) bool { return v == 0 }

func (w *Writer) switchDue(i int, last, want bool, now time.Time) bool {
	return !w.written[i] || last != want || now.Sub(w.lastAt[i]) >= w.cfg.Refresh
}

func (w *Writer) commit(i int, now time.Time, err error, apply func(), note func(error)) {
	if err != nil {
		w.written[i] = false // retry next cycle whatever the dead-band says
		note(err)
		return
	}
	apply()
	w.written[i], w.lastAt[i] = true, now
}
