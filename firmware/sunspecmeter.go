package firmware

import (
	"context"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/sunspec"
)

// polledMeter is a SunSpec meter (models 201-204, 211-214) polled like the hybrid: once per half
// cycle, stale at once when the device does not answer.
type polledMeter struct {
	p *polledHybrid
	m *sunspec.Meter
}

func (b *builder) sunspecMeter(h *polledHybrid) *polledMeter {
	return &polledMeter{p: h, m: &sunspec.Meter{Dev: h.h.Dev, NominalVoltage: b.cc.NominalVoltage, NominalFrequency: b.cc.NominalFrequency}}
}

func (pm *polledMeter) ReadMeter(ctx context.Context) (der.MeterStatus, error) {
	if err := pm.p.poll(ctx); err != nil {
		return der.MeterStatus{}, err
	}
	return pm.m.ReadMeter(ctx)
}
