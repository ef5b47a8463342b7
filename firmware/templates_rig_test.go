package firmware

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/templates"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/hil/rig"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

// Every SunSpec inverter template runs against the HIL rig's SunSpec hybrid (unit 1): the unit file
// names only the template, the gateway and the unit id; PV (and the battery) read good, and a PV
// limit written through the template's controls is what the rig's inverter holds.
func TestSunSpecTemplatesAgainstRig(t *testing.T) {
	pc := hil.DefaultConfig()
	pc.Start = time.Date(2026, 6, 21, 12, 0, 0, 0, time.UTC)
	r, err := rig.Start(rig.Config{Plant: pc, Listen: "127.0.0.1:0", Tick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ts, _ := templates.All()
	for k, tp := range ts {
		if tp.Protocol != "sunspec" || !slices.Contains(tp.Roles, der.RolePV) {
			continue
		}
		t.Run(tp.Name, func(t *testing.T) {
			u, err := config.Parse("unit.yaml", strings.NewReader(fmt.Sprintf(`name: %s-unit
gateways:
  - {name: rig, protocol: modbus-tcp, address: "%s", timeout: 500ms}
devices:
  - {name: inverter, template: %s, roles: [%s], gateway: rig, unit: 1}
`, tp.Name, r.ModbusAddr(), tp.Name, roleNames(tp.Roles))))
			if err != nil {
				t.Fatal(err)
			}
			hw, err := OpenDevices(u, ControllerConfig(u), clock.Real{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer hw.Close()
			if err := hw.WaitReady(context.Background(), 5*time.Second); err != nil {
				t.Fatal(err)
			}
			snap, errs := fractals.Read(context.Background(), &hw.Devices, time.Now(), &fractals.Snapshot{}, time.Second)
			if len(errs) > 0 || !snap.PVPower.Good() || !snap.PVRated.Good() {
				t.Fatalf("PV %v rated %v: %v", snap.PVPower, snap.PVRated, errs)
			}
			if slices.Contains(tp.Roles, der.RoleBattery) && !snap.SoC.Good() {
				t.Errorf("battery SoC %v", snap.SoC)
			}
			// A limit of its own per template, so one held from the template before does not count.
			limit := snap.PVRated.Value * units.Watts(10+k) / 40
			if err := hw.Devices.PV.SetPVLimit(context.Background(), limit); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 5*time.Second, "the PV limit held by the rig's inverter", func() bool {
				tr := r.Truth()
				return tr.PVLimitHeld && (tr.PVLimit-limit).Abs() <= limit/100+1
			})
		})
	}
}

func roleNames(rs []der.Role) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return strings.Join(out, ", ")
}
