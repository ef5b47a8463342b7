package dertest

import (
	"context"
	"sync"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/units"
)

// Faults are the errors a fake returns, nil for none.
type Faults struct {
	ReadErr error
	SetErr  error
}

// fake is the state every fake shares: its status, its faults and how many commands it took.
type fake[S any] struct {
	mu       sync.Mutex
	status   S
	faults   Faults
	commands int
}

// Set replaces the status the device reports.
func (f *fake[S]) Set(s S) { f.mu.Lock(); f.status = s; f.mu.Unlock() }

// Status is what the device reports now.
func (f *fake[S]) Status() S { f.mu.Lock(); defer f.mu.Unlock(); return f.status }

// SetFaults sets the errors reads and commands return.
func (f *fake[S]) SetFaults(fs Faults) { f.mu.Lock(); f.faults = fs; f.mu.Unlock() }

// Commands is how many commands the device accepted.
func (f *fake[S]) Commands() int { f.mu.Lock(); defer f.mu.Unlock(); return f.commands }

func (f *fake[S]) read() (S, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, f.faults.ReadErr
}

// command applies change to the status unless SetErr is set.
func (f *fake[S]) command(change func(*S)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.faults.SetErr != nil {
		return f.faults.SetErr
	}
	change(&f.status)
	f.commands++
	return nil
}

// PV is a PV inverter; Limit is the last limit set (negative before any).
type PV struct {
	fake[der.PVStatus]
	limit units.Watts
}

// NewPV makes a PV inverter reporting st.
func NewPV(st der.PVStatus) *PV { p := &PV{limit: -1}; p.status = st; return p }

func (p *PV) ReadPV(context.Context) (der.PVStatus, error) { return p.read() }

func (p *PV) SetPVLimit(_ context.Context, l units.Watts) error {
	return p.command(func(*der.PVStatus) { p.limit = l })
}

// Limit is the last limit set, negative before any.
func (p *PV) Limit() units.Watts { p.mu.Lock(); defer p.mu.Unlock(); return p.limit }

// Battery is a battery; its set-point is kept in Setpoint (its reported power does not follow).
type Battery struct {
	fake[der.BatteryStatus]
	setpoint units.Watts
}

func NewBattery(st der.BatteryStatus) *Battery { b := &Battery{}; b.status = st; return b }

func (b *Battery) ReadBattery(context.Context) (der.BatteryStatus, error) { return b.read() }

func (b *Battery) SetBatteryPower(_ context.Context, p units.Watts) error {
	return b.command(func(*der.BatteryStatus) { b.setpoint = p })
}

// Setpoint is the last battery power set.
func (b *Battery) Setpoint() units.Watts { b.mu.Lock(); defer b.mu.Unlock(); return b.setpoint }

// Meter is a PCC meter.
type Meter struct{ fake[der.MeterStatus] }

func NewMeter(st der.MeterStatus) *Meter { m := &Meter{}; m.status = st; return m }

func (m *Meter) ReadMeter(context.Context) (der.MeterStatus, error) { return m.read() }

// Switch is a relay whose feedback follows its command.
type Switch struct{ fake[bool] }

func NewSwitch(closed bool) *Switch { s := &Switch{}; s.status = closed; return s }

func (s *Switch) ReadSwitch(context.Context) (bool, error) { return s.read() }

func (s *Switch) SetSwitch(_ context.Context, closed bool) error {
	return s.command(func(st *bool) { *st = closed })
}

// Load is a switched load: switched off it draws nothing, on it draws its demand.
type Load struct{ fake[der.LoadStatus] }

func NewLoad(st der.LoadStatus) *Load { l := &Load{}; l.status = st; return l }

func (l *Load) ReadLoad(context.Context) (der.LoadStatus, error) { return l.read() }

func (l *Load) SetLoad(_ context.Context, on bool) error {
	return l.command(func(st *der.LoadStatus) {
		st.On, st.Power = on, 0
		if on {
			st.Power = st.Demand
		}
	})
}

// EV is an EV charger that draws what it is set to, up to MaxPower, while a car is connected.
type EV struct{ fake[der.EVStatus] }

func NewEV(st der.EVStatus) *EV { e := &EV{}; e.status = st; return e }

func (e *EV) ReadEV(context.Context) (der.EVStatus, error) { return e.read() }

func (e *EV) SetEVPower(_ context.Context, p units.Watts) error {
	return e.command(func(st *der.EVStatus) {
		st.Power = 0
		if st.Connected {
			st.Power = min(p, st.MaxPower)
		}
	})
}

// AccessPoint is a Wi-Fi access point whose clients are capped by its limit.
type AccessPoint struct{ fake[der.AccessPointStatus] }

func NewAccessPoint(st der.AccessPointStatus) *AccessPoint {
	a := &AccessPoint{}
	a.status = st
	return a
}

func (a *AccessPoint) ReadAccessPoint(context.Context) (der.AccessPointStatus, error) {
	return a.read()
}

func (a *AccessPoint) SetClientLimit(_ context.Context, n int) error {
	return a.command(func(st *der.AccessPointStatus) { st.ClientLimit, st.Clients = n, min(st.Clients, n) })
}

func (a *AccessPoint) SetAccessPointEnabled(_ context.Context, on bool) error {
	return a.command(func(st *der.AccessPointStatus) {
		st.Enabled = on
		if !on {
			st.Clients = 0
		}
	})
}

// StorageNode is an IGFS storage node.
type StorageNode struct{ fake[der.StorageNodeStatus] }

func NewStorageNode(st der.StorageNodeStatus) *StorageNode {
	s := &StorageNode{}
	s.status = st
	return s
}

func (s *StorageNode) ReadStorageNode(context.Context) (der.StorageNodeStatus, error) {
	return s.read()
}

func (s *StorageNode) SetReplicationPaused(_ context.Context, p bool) error {
	return s.command(func(st *der.StorageNodeStatus) { st.ReplicationPaused = p })
}

func (s *StorageNode) SetReadOnly(_ context.Context, ro bool) error {
	return s.command(func(st *der.StorageNodeStatus) { st.ReadOnly = ro })
}

func (s *StorageNode) SetBandwidthLimit(_ context.Context, l der.BytesPerSecond) error {
	return s.command(func(st *der.StorageNodeStatus) { st.BandwidthLimit = l })
}

var (
	_ der.PVInverter  = (*PV)(nil)
	_ der.Battery     = (*Battery)(nil)
	_ der.Meter       = (*Meter)(nil)
	_ der.Switch      = (*Switch)(nil)
	_ der.Load        = (*Load)(nil)
	_ der.EVCharger   = (*EV)(nil)
	_ der.AccessPoint = (*AccessPoint)(nil)
	_ der.StorageNode = (*StorageNode)(nil)
)
