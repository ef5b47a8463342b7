package firmware

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der/mqtt"
	"github.com/fractals-energy/fractals/firmware/config"
)

// The MQTT templates against devices that speak their documented topics: a Venus OS GX (N/ values
// as {"value": ...}, the ESS mode 3 AC-input set-point on W/) and an OpenDTU (bare numbers under
// solar/<serial>/, the non-persistent absolute limit). The unit reads each template's points, writes
// a set-point, and the device reads the value back on its command topic.
func TestMQTTTemplatesReadWriteReadBack(t *testing.T) {
	broker, err := mqtt.StartBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	const portal, serial = "c0619ab1c2d3", "114172220001"
	u, err := config.Parse("u.yaml", strings.NewReader(fmt.Sprintf(`name: u
cycle: 500ms
mqtt: {broker: %q}
site: {battery_capacity_wh: 10000, battery_max_charge_w: 3000, battery_max_discharge_w: 3000}
devices:
  - {name: venus, template: victron-gx, roles: [battery, meter], portal_id: %s}
  - {name: dtu, template: opendtu-hoymiles, roles: [pv], serial: '%s', pv_rated_w: 800}
`, broker.URL(), portal, serial)))
	if err != nil {
		t.Fatal(err)
	}
	// The devices' side: what arrives on their command topics.
	acIn := fmt.Sprintf("W/%s/vebus/%d/Hub4/L1/AcPowerSetpoint", portal, mqtt.DefaultVebusInstance)
	limit := "solar/" + serial + "/cmd/limit_nonpersistent_absolute"
	devices, err := mqtt.New(mqtt.Config{Name: "devices", Broker: broker.URL(), ClientID: "emulated-devices",
		Mapping:    mqtt.Mapping{Points: map[string]mqtt.Binding{"acin": {Topic: acIn, Field: "value"}, "limit": {Topic: limit}}},
		StaleAfter: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	devices.Start()
	defer devices.Close()
	hw := openHardware(t, u)
	defer hw.Close()
	venus := map[string]string{
		"system/0/Dc/Battery/Soc": "55", "system/0/Dc/Battery/Power": "-400", "system/0/Dc/Pv/Power": "300",
		"system/0/Ac/ConsumptionOnOutput/L1/Power": "700", "settings/0/Settings/CGwacs/Hub4Mode": "3",
		"system/0/Ac/Grid/L1/Power": "120", "vebus/276/Ac/ActiveIn/L1/V": "231", "vebus/276/Ac/ActiveIn/L1/F": "50.02",
	}
	dtu := map[string]string{"0/power": "312.5", "0/voltage": "230", "0/frequency": "50"}
	ctx := context.Background()
	waitUntil(t, 10*time.Second, "every template point read", func() bool {
		for path, v := range venus {
			_ = broker.Publish("N/"+portal+"/"+path, []byte(`{"value": `+v+`}`), false, 0)
		}
		for path, v := range dtu {
			_ = broker.Publish("solar/"+serial+"/"+path, []byte(v), false, 0)
		}
		_, errB := hw.Devices.Battery.ReadBattery(ctx)
		_, errM := hw.Devices.Meter.ReadMeter(ctx)
		_, errP := hw.Devices.PV.ReadPV(ctx)
		return errB == nil && errM == nil && errP == nil && devices.Connected()
	})
	bat, _ := hw.Devices.Battery.ReadBattery(ctx)
	met, _ := hw.Devices.Meter.ReadMeter(ctx)
	pv, _ := hw.Devices.PV.ReadPV(ctx)
	if bat.SoC != 0.55 || bat.Power != -400 || met.Power != 120 || met.Voltage != 231 || !met.GridPresent ||
		pv.Power != 312.5 || pv.Rated != 800 {
		t.Fatalf("battery %+v, meter %+v, PV %+v", bat, met, pv)
	}
	// Charge 1000 W: the Multi's AC input must take 1000 + 700 (AC-out) - 300 (DC PV) = 1400 W.
	if err := hw.Devices.Battery.SetBatteryPower(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	if err := hw.Devices.PV.SetPVLimit(ctx, 400); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "set-points read back by the devices", func() bool {
		a, errA := devices.Value("acin")
		l, errL := devices.Value("limit")
		return errA == nil && errL == nil && a == 1400 && l == 400
	})
}
