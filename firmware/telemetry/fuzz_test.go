package telemetry

import (
	"strings"
	"testing"

	"github.com/fractals-energy/fractals/firmware"
)

// FuzzMQTTCommand feeds the command handlers any payload: the reserve is applied only when it is a number
// the controller's configuration accepts, the island only ON/OFF, the EV mode only a known name; refused with a message naming the command otherwise, and never
// panics.
func FuzzMQTTCommand(f *testing.F) {
	for _, s := range []string{"35", " 40\n", "150", "-1", "NaN", "+Inf", "1e400", "banana", "", "35.5", "ON", "OFF", "off", "now", "deadline", strings.Repeat("9", 100)} {
		f.Add(s)
	}
	d, _ := simDaemon(f)
	settings := firmware.NewSettings(d.Unit())
	m := &MQTT{opts: MQTTOptions{Settings: settings, Unit: d.Unit(), Topics: Topics{Prefix: "p", Discovery: "h", Unit: "u"}}}
	f.Fuzz(func(t *testing.T, payload string) {
		err := m.apply("reserve_soc_pct", []byte(payload))
		if err != nil && !strings.HasPrefix(err.Error(), "reserve_soc") {
			t.Fatalf("error does not name the command: %v", err)
		}
		for _, key := range []string{"planned_island", "ev_mode"} {
			if err := m.apply(key, []byte(payload)); err != nil && !strings.HasPrefix(err.Error(), key) {
				t.Fatalf("error does not name the command: %v", err)
			}
		}
		if r := settings.Reserve(); r < 5 || r >= 95 {
			t.Fatalf("reserve %v %% outside the BMS window", r)
		}
	})
}
