package firmware

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/der/sunspec"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/clock"
)

// The running unit keeps a battery that carries model 802 told: a heartbeat (CtrlHb) that moves with
// the writer's battery writes, at least every refresh, and the reserve band from the controller's
// reserve and maximum state of charge, on a 12x device and on a 70x one alike.
func Test802HeartbeatAndReserveFromTheRunningUnit(t *testing.T) {
	for _, c := range []struct {
		name string
		m    *sunspec.Map
	}{{"12x", twelveOnly(t)}, {"70x", seventyOnly(t)}} {
		srv := modbus.NewServer(map[byte]modbus.Bank{1: c.m}, 1)
		if err := srv.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		u, err := config.Parse("unit.yaml", strings.NewReader(fmt.Sprintf(`name: keepalive
gateways:
  - {name: lan, protocol: modbus-tcp, address: "%s", timeout: 500ms}
devices:
  - {name: inverter, template: sunspec-hybrid, roles: [pv, battery], gateway: lan}
site: {reserve: 0.3}
`, srv.Addr())))
		if err != nil {
			t.Fatal(err)
		}
		cc := ControllerConfig(u)
		clk := clock.NewSim(time.Date(2026, 6, 21, 12, 0, 0, 0, time.UTC))
		hw, err := OpenDevices(u, cc, clk, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := hw.WaitReady(ctx, 5*time.Second); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		wc := fractals.DefaultWriterConfig()
		unit, err := NewUnit(cc, wc, hw.Devices, clk, nil)
		if err != nil {
			t.Fatal(err)
		}
		beats := map[float64]bool{}
		const cycles = 40
		for n := 0; n < cycles; n++ {
			if err := unit.Cycle(ctx); err != nil {
				t.Fatal(err)
			}
			if v, err := c.m.Get(802, "CtrlHb"); err == nil && v.Valid {
				beats[v.Number] = true
			}
			clk.Advance(time.Second)
		}
		// 40 s with a 15 s refresh: the first write and at least two refreshes.
		if len(beats) < int(cycles*time.Second/wc.Refresh)+1 {
			t.Errorf("%s: heartbeat took the values %v in %d cycles, want at least %d", c.name, beats, cycles, int(cycles*time.Second/wc.Refresh)+1)
		}
		if err := expect(c.m, []sv{{802, "SoCRsvMin", 30}, {802, "SocRsvMax", float64(cc.SoCMax) * 100}}); err != nil {
			t.Errorf("%s: reserve: %v", c.name, err)
		}
		hw.Close()
		srv.Stop()
	}
}
