package dertest

import (
	"context"
	"errors"
	"testing"

	"github.com/fractals-energy/fractals/der"
)

func TestFakesFollowTheirCommands(t *testing.T) {
	ctx := context.Background()
	pv := NewPV(der.PVStatus{Power: 3000, Rated: 5000})
	if pv.Limit() >= 0 {
		t.Error("limit before any command")
	}
	_ = pv.SetPVLimit(ctx, 2000)
	if st, err := pv.ReadPV(ctx); err != nil || st.Power != 3000 || pv.Limit() != 2000 || pv.Commands() != 1 {
		t.Errorf("pv %+v %v limit %v", st, err, pv.Limit())
	}
	sw := NewSwitch(true)
	_ = sw.SetSwitch(ctx, false)
	if closed, _ := sw.ReadSwitch(ctx); closed {
		t.Error("switch still closed")
	}
	l := NewLoad(der.LoadStatus{Demand: 40, Power: 40, On: true})
	_ = l.SetLoad(ctx, false)
	if st, _ := l.ReadLoad(ctx); st.On || st.Power != 0 {
		t.Errorf("load %+v", st)
	}
	ev := NewEV(der.EVStatus{Connected: true, MaxPower: 7400})
	_ = ev.SetEVPower(ctx, 11000)
	if st, _ := ev.ReadEV(ctx); st.Power != 7400 {
		t.Errorf("ev %+v", st)
	}
	ap := NewAccessPoint(der.AccessPointStatus{Enabled: true, Clients: 20, ClientLimit: 64})
	_ = ap.SetClientLimit(ctx, 8)
	if st, _ := ap.ReadAccessPoint(ctx); st.Clients != 8 || st.ClientLimit != 8 {
		t.Errorf("ap %+v", st)
	}
	sn := NewStorageNode(der.StorageNodeStatus{})
	_ = sn.SetReadOnly(ctx, true)
	if st, _ := sn.ReadStorageNode(ctx); !st.ReadOnly {
		t.Errorf("storage %+v", st)
	}
	boom := errors.New("boom")
	b := NewBattery(der.BatteryStatus{SoC: 0.5})
	b.SetFaults(Faults{ReadErr: der.ErrStale, SetErr: boom})
	if _, err := b.ReadBattery(ctx); !errors.Is(err, der.ErrStale) {
		t.Errorf("read fault: %v", err)
	}
	if err := b.SetBatteryPower(ctx, 100); !errors.Is(err, boom) || b.Setpoint() != 0 || b.Commands() != 0 {
		t.Errorf("set fault: %v, set-point %v", err, b.Setpoint())
	}
	m := NewMeter(der.MeterStatus{Power: 5})
	m.Set(der.MeterStatus{Power: 7})
	if st, _ := m.ReadMeter(ctx); st.Power != 7 {
		t.Errorf("meter %+v", st)
	}
}
