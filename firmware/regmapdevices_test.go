package firmware

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/der/regmap"
	"github.com/fractals-energy/fractals/der/sunspec"
	"github.com/fractals-energy/fractals/der/templates"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/clock"
)

// A unit file naming a register-map template runs on it: the controller's Read sees the device's
// values (with Sungrow's magnitude-and-sign battery power) and its battery command lands in the
// documented registers.
func TestRegmapTemplateDevice(t *testing.T) {
	tp, _ := templates.Get("sungrow-sh")
	bank, err := regmap.NewBank(tp.Registers)
	if err != nil {
		t.Fatal(err)
	}
	for p, v := range map[string]float64{"pv.rated": 8000, "pv.power": 3100, "meter.voltage": 230.5, "meter.frequency": 50,
		"meter.power": -450, "battery.power": -1200, "battery.soc": 62.5} {
		if err := bank.Set(p, v); err != nil {
			t.Fatal(p, err)
		}
	}
	srv := modbus.NewServer(map[byte]modbus.Bank{1: bank}, 1)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	u, err := config.Parse("unit.yaml", strings.NewReader(fmt.Sprintf(`name: sungrow-unit
cycle: 200ms
gateways:
  - {name: lan, protocol: modbus-tcp, address: "%s", timeout: 500ms}
devices:
  - {name: inverter, template: sungrow-sh, roles: [pv, battery, meter], gateway: lan}
`, srv.Addr())))
	if err != nil {
		t.Fatal(err)
	}
	hw := openHardware(t, u)
	defer hw.Close()
	if err := hw.WaitReady(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	snap, errs := fractals.Read(context.Background(), &hw.Devices, time.Now(), &fractals.Snapshot{}, time.Second)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if snap.PVPower.Value != 3100 || snap.BatteryPower.Value != -1200 || snap.SoC.Value != 0.625 ||
		snap.GridPower.Value != -450 || !snap.GridPresent.Value || !snap.GridFrequency.Good() {
		t.Fatalf("snapshot pv %v battery %v soc %v grid %v present %v", snap.PVPower, snap.BatteryPower, snap.SoC, snap.GridPower, snap.GridPresent)
	}
	if err := hw.Devices.Battery.SetBatteryPower(context.Background(), -800); err != nil {
		t.Fatal(err)
	}
	regs, err := bank.ReadRegisters(13050, 2)
	if err != nil || regs[0] != 0xBB || regs[1] != 800 {
		t.Fatalf("registers 13050..13051 = %v %v, want discharge (0xBB) 800 W", regs, err)
	}
}

// An implausible reading is a failed read whose reason shows in the unit's status.
func TestImplausibleReadingInStatus(t *testing.T) {
	tp, _ := templates.Get("eastron-sdm630")
	bank, err := regmap.NewBank(tp.Registers)
	if err != nil {
		t.Fatal(err)
	}
	_ = bank.Set("meter.voltage", 230)
	_ = bank.Set("meter.frequency", 50)
	_ = bank.Set("meter.power", 1e12)
	srv := modbus.NewServer(map[byte]modbus.Bank{1: bank}, 1)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	u, err := config.Parse("unit.yaml", strings.NewReader(fmt.Sprintf(`name: meter-unit
gateways:
  - {name: lan, protocol: modbus-tcp, address: "%s"}
devices:
  - {name: pcc-meter, template: eastron-sdm630, roles: [meter], gateway: lan}
`, srv.Addr())))
	if err != nil {
		t.Fatal(err)
	}
	cc := ControllerConfig(u)
	hw, err := OpenDevices(u, cc, clock.Real{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hw.Close()
	unit, err := NewUnit(cc, fractals.DefaultWriterConfig(), hw.Devices, clock.Real{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = unit.Cycle(context.Background())
	st := unit.Status()
	if st.Snapshot.GridPower.Good() || len(st.ReadErrors) == 0 || !strings.Contains(strings.Join(st.ReadErrors, "\n"), "meter.power 9.99999995904e+11 W outside") {
		t.Fatalf("grid power %+v, read errors %q", st.Snapshot.GridPower, st.ReadErrors)
	}
}

// A SunSpec meter (model 213, float) named by its template is the unit's PCC meter.
func TestSunSpecMeterTemplate(t *testing.T) {
	m, err := sunspec.NewMap(40000, sunspec.ModelSpec{ID: 1}, sunspec.ModelSpec{ID: 213})
	if err != nil {
		t.Fatal(err)
	}
	for path, v := range map[string]float64{"W": 2100, "PhV": 229.5, "Hz": 50.02} {
		if err := m.Set(213, path, v); err != nil {
			t.Fatal(err)
		}
	}
	srv := modbus.NewServer(map[byte]modbus.Bank{240: m}, 1)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	u, err := config.Parse("unit.yaml", strings.NewReader(fmt.Sprintf(`name: meter-unit
gateways:
  - {name: lan, protocol: modbus-tcp, address: "%s"}
devices:
  - {name: pcc-meter, template: sunspec-meter, roles: [meter], gateway: lan}
`, srv.Addr())))
	if err != nil {
		t.Fatal(err)
	}
	hw := openHardware(t, u)
	defer hw.Close()
	if err := hw.WaitReady(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	snap, errs := fractals.Read(context.Background(), &hw.Devices, time.Now(), &fractals.Snapshot{}, time.Second)
	if len(errs) > 0 || snap.GridPower.Value != 2100 || !snap.GridPresent.Value || snap.GridFrequency.Value < 50.01 {
		t.Fatalf("grid %v present %v hz %v: %v", snap.GridPower, snap.GridPresent, snap.GridFrequency, errs)
	}
}
