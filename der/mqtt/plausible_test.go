package mqtt

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der"
)

func meterDevice(t *testing.T, broker string) *Device {
	t.Helper()
	dev, err := New(Config{Name: "pcc", Broker: broker, ClientID: "plausible-test", StaleAfter: time.Minute,
		Mapping: Mapping{Points: map[string]Binding{MeterPower: {Topic: "m/w"}, MeterVoltage: {Topic: "m/v"},
			MeterFrequency: {Topic: "m/f"}, MeterPresent: {Topic: "m/present"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

// The probe's meter published 1e308 W, ±1e12 W and `true` as its power, and each was read as a
// good value; each is now a failed read whose error says what was wrong.
func TestImplausibleMeterReadingsFail(t *testing.T) {
	dev := meterDevice(t, "tcp://127.0.0.1:1")
	inv := &Inverter{Dev: dev, NominalVoltage: 230, NominalFrequency: 50}
	dev.handle("m/v", []byte("230"), false)
	dev.handle("m/f", []byte("50"), false)
	dev.handle("m/present", []byte("true"), false) // a boolean point: fine
	ctx := context.Background()
	for _, c := range []struct {
		topic, payload, want string
	}{
		{"m/w", "1e308", "meter.power 1e+308 W outside -1e+07..1e+07 W"},
		{"m/w", "1e12", "meter.power 1e+12 W outside"},
		{"m/w", "-1e12", "meter.power -1e+12 W outside"},
		{"m/w", "true", "meter.power: a boolean where a number belongs"},
		{"m/w", "off", "meter.power: a boolean where a number belongs"},
		{"m/v", "23000", "meter.voltage 23000 V outside 0..1000 V"},
		{"m/f", "-50", "meter.frequency -50 Hz outside 0..100 Hz"},
		{"m/f", "true", "meter.frequency: a boolean"},
	} {
		dev.handle(c.topic, []byte(c.payload), false)
		st, err := inv.ReadMeter(ctx)
		if !errors.Is(err, der.ErrImplausible) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %s: read %+v, %v; want implausible: %s", c.topic, c.payload, st, err, c.want)
		}
		// A good value afterwards is read again.
		dev.handle("m/w", []byte("-800"), false)
		dev.handle("m/v", []byte("230"), false)
		dev.handle("m/f", []byte("50"), false)
		if st, err := inv.ReadMeter(ctx); err != nil || st.Power != -800 || !st.GridPresent {
			t.Fatalf("after %s = %s, a good reading: %+v, %v", c.topic, c.payload, st, err)
		}
	}
}

// Power beyond RatingMargin times a device's rating fails; within it, it reads.
func TestPowerBeyondRatingFails(t *testing.T) {
	dev, err := New(Config{Name: "inv", Broker: "tcp://127.0.0.1:1", StaleAfter: time.Minute, Mapping: Mapping{Points: map[string]Binding{
		PVPower: {Topic: "i/pv"}, BatteryPower: {Topic: "i/bat"}, BatterySoC: {Topic: "i/soc"}}}})
	if err != nil {
		t.Fatal(err)
	}
	inv := &Inverter{Dev: dev, PVRated: 5000, MaxCharge: 3000, MaxDischarge: 4000}
	ctx := context.Background()
	dev.handle("i/soc", []byte("55"), false)
	for _, c := range []struct {
		pv, bat string
		pvOK    bool
		batOK   bool
	}{{"5200", "-4100", true, true}, {"15001", "12001", false, false}, {"14999", "-11999", true, true}} {
		dev.handle("i/pv", []byte(c.pv), false)
		dev.handle("i/bat", []byte(c.bat), false)
		if _, err := inv.ReadPV(ctx); (err == nil) != c.pvOK || (err != nil && !errors.Is(err, der.ErrImplausible)) {
			t.Errorf("PV %s W at 5000 W rated: %v", c.pv, err)
		}
		if _, err := inv.ReadBattery(ctx); (err == nil) != c.batOK || (err != nil && !errors.Is(err, der.ErrImplausible)) {
			t.Errorf("battery %s W at 4000 W: %v", c.bat, err)
		}
	}
	dev.handle("i/soc", []byte("180"), false)
	if _, err := inv.ReadBattery(ctx); !errors.Is(err, der.ErrImplausible) {
		t.Errorf("SoC 180 %%: %v", err)
	}
}

// The same over a real broker: what a hostile device publishes ends as a failed read.
func TestImplausibleOverBroker(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	dev := meterDevice(t, b.URL())
	dev.Start()
	defer dev.Close()
	waitFor(t, "connect", dev.Connected)
	inv := &Inverter{Dev: dev, NominalVoltage: 230, NominalFrequency: 50}
	ctx := context.Background()
	waitFor(t, "implausible power", func() bool {
		for topic, v := range map[string]string{"m/w": "1e308", "m/v": "230", "m/f": "50"} {
			if err := b.Publish(topic, []byte(v), false, 0); err != nil {
				t.Fatal(err)
			}
		}
		_, err := inv.ReadMeter(ctx)
		return errors.Is(err, der.ErrImplausible)
	})
}

// FuzzHandle feeds arbitrary topics and payloads to a device's message handler: it must never
// panic, and whatever it stores reads back as a finite, plausible value or an error.
func FuzzHandle(f *testing.F) {
	for _, s := range []struct{ topic, payload string }{
		{"m/w", "1e308"}, {"m/w", "true"}, {"m/v", `{"value": 230}`}, {"m/f", "null"}, {"m/present", "ON"},
		{"x/y", "1"}, {"m/w", "NaN"}, {"m/w", "-0"}, {"m/f", "\x00"},
	} {
		f.Add(s.topic, []byte(s.payload), false)
	}
	f.Fuzz(func(t *testing.T, topic string, payload []byte, retained bool) {
		dev := meterDevice(t, "tcp://127.0.0.1:1")
		dev.handle(topic, payload, retained)
		for _, p := range []string{MeterPower, MeterVoltage, MeterFrequency, MeterPresent} {
			v, err := dev.Value(p)
			if err != nil {
				continue
			}
			band := pointBands[p]
			if v != v || v < band.min || v > band.max {
				t.Fatalf("%s = %q read as %v", p, payload, v)
			}
		}
	})
}
