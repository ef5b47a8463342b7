package firmware

import (
	"context"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/internal/units"
)

// SimulatedDevices presents a simulated plant through the der interfaces, exactly as real drivers
// would, so the controller cannot tell the difference. The HIL rig does the same over real protocols.
func SimulatedDevices(p *hil.Plant) fractals.Devices {
	d := fractals.Devices{PV: simPV{p}, Battery: simBattery{p}, Meter: simMeter{p}, PCC: simPCC{p}, EV: simEV{p}}
	d.Services = servicesOf(simAccessPoint{p}, simStorageNode{p}, DefaultServiceLimits)
	for k := range d.Loads {
		d.Loads[k] = simLoad{p, hil.LoadKind(k)}
	}
	return d
}

type simPV struct{ p *hil.Plant }

func (s simPV) ReadPV(context.Context) (der.PVStatus, error) {
	return der.PVStatus{Power: s.p.PVOutput(), Available: s.p.PVAvailable(), Rated: s.p.PVRated()}, nil
}

func (s simPV) SetPVLimit(_ context.Context, w units.Watts) error { s.p.SetPVLimit(w); return nil }

type simBattery struct{ p *hil.Plant }

func (s simBattery) ReadBattery(context.Context) (der.BatteryStatus, error) {
	b := s.p.Battery()
	c := s.p.Config().Battery
	return der.BatteryStatus{Power: b.Power, SoC: b.SoC, Capacity: c.Capacity, MaxCharge: b.ChargeLimit,
		MaxDischarge: b.DischargeLimit, GridForming: b.GridForming, ChargeEff: c.ChargeEff,
		DischargeEff: c.DischargeEff, SoCMin: c.SoCMin, SoCMax: c.SoCMax}, nil
}

func (s simBattery) SetBatteryPower(_ context.Context, w units.Watts) error {
	s.p.SetBatteryPower(w)
	return nil
}

type simMeter struct{ p *hil.Plant }

func (s simMeter) ReadMeter(context.Context) (der.MeterStatus, error) {
	g := s.p.Grid()
	return der.MeterStatus{Power: g.Power, Voltage: g.Voltage, Frequency: g.Frequency, GridPresent: g.Present}, nil
}

func (s simMeter) ReadUtility(context.Context) (der.UtilityStatus, error) {
	u := s.p.Utility()
	return der.UtilityStatus{Voltage: u.Voltage, Frequency: u.Frequency, PhaseDeg: u.PhaseDeg}, nil
}

func (s simBattery) SetGridForming(_ context.Context, on bool) error {
	s.p.SetGridForming(on)
	return nil
}

func (s simBattery) SetFormingSetpoints(_ context.Context, f units.Hertz, v units.Volts) error {
	s.p.SetFormingSetpoints(f, v)
	return nil
}

type simPCC struct{ p *hil.Plant }

func (s simPCC) ReadSwitch(context.Context) (bool, error)       { return s.p.Grid().PCCClosed, nil }
func (s simPCC) SetSwitch(_ context.Context, closed bool) error { s.p.SetPCC(closed); return nil }

type simLoad struct {
	p *hil.Plant
	k hil.LoadKind
}

func (s simLoad) ReadLoad(context.Context) (der.LoadStatus, error) {
	l := s.p.Load(s.k)
	return der.LoadStatus{Power: l.Power, Demand: l.Demand, On: l.On}, nil
}

func (s simLoad) SetLoad(_ context.Context, on bool) error { s.p.SetLoad(s.k, on); return nil }

type simEV struct{ p *hil.Plant }

func (s simEV) ReadEV(context.Context) (der.EVStatus, error) {
	e := s.p.EV()
	return der.EVStatus{Connected: e.Connected, Power: e.Power, MaxPower: e.MaxPower, Delivered: e.Delivered,
		Needed: e.Needed, Deadline: e.Deadline}, nil
}

func (s simEV) SetEVPower(_ context.Context, w units.Watts) error { s.p.SetEVPower(w); return nil }

// ControllerConfigFor derives the controller's site configuration from a plant's, as an installer
// would copy it from the nameplates.
func ControllerConfigFor(pc hil.Config) fractals.Config {
	c := fractals.DefaultConfig()
	b := pc.Battery
	c.BatteryCapacity, c.BatteryMaxCharge, c.BatteryMaxDischarge = b.Capacity, b.MaxCharge, b.MaxDischarge
	c.ChargeEff, c.DischargeEff, c.SoCMin, c.SoCMax = b.ChargeEff, b.DischargeEff, b.SoCMin, b.SoCMax
	c.Reserve = max(c.Reserve, b.SoCMin)
	c.ServicesFloor = min(max(c.ServicesFloor, b.SoCMin), c.Reserve)
	c.MaxImport, c.MaxExport = pc.Grid.MaxImport, pc.Grid.MaxExport
	c.NominalVoltage, c.NominalFrequency = pc.Grid.NominalVoltage, pc.Grid.NominalFrequency
	return c
}
