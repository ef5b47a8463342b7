package fractals

import (
	"context"
	"time"

	"github.com/fractals-energy/fractals/der"
)

// islandOutputs is what the writer last told the grid-forming inverter and the services.
type islandOutputs struct {
	forming, setpoints, services       bool // written at least once
	formingAt, setpointsAt, servicesAt time.Time
	reactive                           bool
	reactiveAt                         time.Time
	shift                              bool
	shiftAt                            time.Time
	energize                           bool
	energizeAt                         time.Time
}

// writeIsland sends the grid-forming command and set-points to a battery inverter that takes them
// (der.GridFormer), and the service step to the services (der.ServiceDegrader): on change, and again
// every refresh period.
func (w *Writer) writeIsland(ctx context.Context, d *Devices, c Commands, now time.Time, note func(error)) {
	o := &w.island
	due := func(written bool, at time.Time, changed bool) bool {
		return !written || changed || now.Sub(at) >= w.cfg.Refresh
	}
	if gf, ok := d.Battery.(der.GridFormer); ok && d.Battery != nil {
		if due(o.forming, o.formingAt, w.last.GridForming != c.GridForming) {
			err := gf.SetGridForming(ctx, c.GridForming)
			note(err)
			if o.forming = err == nil; o.forming {
				o.formingAt, w.last.GridForming = now, c.GridForming
			}
		}
		changed := w.last.FrequencySet != c.FrequencySet || w.last.VoltageSet != c.VoltageSet
		if due(o.setpoints, o.setpointsAt, changed) {
			err := gf.SetFormingSetpoints(ctx, c.FrequencySet, c.VoltageSet)
			note(err)
			if o.setpoints = err == nil; o.setpoints {
				o.setpointsAt, w.last.FrequencySet, w.last.VoltageSet = now, c.FrequencySet, c.VoltageSet
			}
		}
	}
	if rs, ok := d.PV.(der.ReactivePowerSetter); ok && d.PV != nil && due(o.reactive, o.reactiveAt, w.last.ReactivePower != c.ReactivePower) {
		err := rs.SetReactivePower(ctx, c.ReactivePower)
		note(err)
		if o.reactive = err == nil; o.reactive {
			o.reactiveAt, w.last.ReactivePower = now, c.ReactivePower
		}
	}
	if fs, ok := d.PV.(der.FrequencyShifter); ok && d.PV != nil && due(o.shift, o.shiftAt, w.last.FrequencyShift != c.FrequencyShift) {
		err := fs.SetFrequencyShift(ctx, c.FrequencyShift)
		note(err)
		if o.shift = err == nil; o.shift {
			o.shiftAt, w.last.FrequencyShift = now, c.FrequencyShift
		}
	}
	if en, ok := d.Battery.(der.Energizer); ok && d.Battery != nil && due(o.energize, o.energizeAt, w.last.CeaseToEnergize != c.CeaseToEnergize) {
		err := en.SetEnergize(ctx, !c.CeaseToEnergize)
		note(err)
		if o.energize = err == nil; o.energize {
			o.energizeAt, w.last.CeaseToEnergize = now, c.CeaseToEnergize
		}
	}
	if d.Services != nil && due(o.services, o.servicesAt, w.last.ServiceStep != c.ServiceStep) {
		err := d.Services.SetServiceStep(ctx, int(c.ServiceStep))
		note(err)
		if o.services = err == nil; o.services {
			o.servicesAt, w.last.ServiceStep = now, c.ServiceStep
		}
	}
}
