package firmware

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/mqtt"
	"github.com/fractals-energy/fractals/der/sunspec"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/hil/rig"
	"github.com/fractals-energy/fractals/internal/clock"
)

// TestDeviceDaemonAgainstRig runs the daemon on real drivers against the HIL rig in-process: the
// controller's view follows the plant, its commands drive it, and an inverter that goes offline is
// stale within two cycles, puts the controller in safe mode and comes back by itself.
func TestDeviceDaemonAgainstRig(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	pc := hil.DefaultConfig()
	pc.Start = time.Date(2026, 6, 21, 12, 0, 0, 0, time.UTC)
	r, err := rig.Start(rig.Config{Plant: pc, Listen: "127.0.0.1:0", Tick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const cycle = 200 * time.Millisecond
	u, err := config.Parse("rig.yaml", strings.NewReader(r.UnitYAML(cycle)))
	if err != nil {
		t.Fatal(err)
	}
	d, hw, err := NewDeviceDaemon(u, clock.Real{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hw.Close()
	if hw.Devices.PV == nil || hw.Devices.Battery == nil || hw.Devices.Meter == nil || hw.Devices.PCC == nil ||
		hw.Devices.EV == nil || hw.Devices.Loads[2] == nil {
		t.Fatalf("roles not all mapped: %+v", hw.Devices)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = d.Run(ctx, nil) }()
	defer func() { cancel(); wg.Wait() }()

	waitUntil(t, 10*time.Second, "every essential reading good", func() bool {
		s := d.Unit().Status().Snapshot
		return s.SoC.Good() && s.PVPower.Good() && s.GridFrequency.Good() && s.GridPresent.Good() && s.PCCClosed.Good() &&
			s.Loads[0].Power.Good()
	})
	waitUntil(t, 5*time.Second, "a few cycles", func() bool { return d.Unit().Status().Cycles >= 5 })
	s := d.Unit().Status().Snapshot
	hist := r.History()
	for _, c := range []struct {
		name  string
		got   float64
		truth func(rig.Truth) float64
		tol   float64
	}{
		{"PV power", float64(s.PVPower.Value), func(tr rig.Truth) float64 { return float64(tr.PVPower) }, 1.5},
		{"SoC", float64(s.SoC.Value), func(tr rig.Truth) float64 { return float64(tr.SoC) }, 1e-4},
		{"frequency", float64(s.GridFrequency.Value), func(tr rig.Truth) float64 { return float64(tr.Frequency) }, 1e-3},
		{"battery power", float64(s.BatteryPower.Value), func(tr rig.Truth) float64 { return float64(tr.BatteryPower) }, 1.5},
	} {
		if !rig.Matches(hist, s.At, cycle, c.truth, c.got, c.tol) {
			t.Errorf("%s: controller read %v at %v; the plant did not hold it within one cycle before", c.name, c.got, s.At)
		}
	}
	// The controller's battery command reaches the plant through SunSpec 124.
	waitUntil(t, 5*time.Second, "battery set-point held by the inverter", func() bool {
		tr := r.Truth()
		cmd := d.Unit().Status().Commands.BatteryPower
		return tr.BatteryHeld && (tr.BatterySetpoint-cmd).Abs() <= 0.5 && cmd != 0
	})

	if err := r.Inject(rig.Fault{Device: "inverter", Kind: "offline", On: true}); err != nil {
		t.Fatal(err)
	}
	off := time.Now()
	waitUntil(t, 2*cycle, "SoC stale within two cycles", func() bool {
		return d.Unit().Status().Snapshot.SoC.Quality != fractals.Good
	})
	t.Logf("SoC not good %v after the inverter went offline", time.Since(off).Round(time.Millisecond))
	waitUntil(t, 5*time.Second, "safe mode", func() bool {
		st := d.Unit().Status()
		// The battery set-point cannot reach an offline inverter (its revert timer idles it); the EV
		// charger, on MQTT, is paused.
		return st.State.Safe && st.Commands.EVPower == 0
	})
	if err := r.Inject(rig.Fault{Device: "inverter", Kind: "offline"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "recovery", func() bool {
		st := d.Unit().Status()
		return !st.State.Safe && st.Snapshot.SoC.Good()
	})
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestControllerConfigFromSiteAndMissingPins(t *testing.T) {
	u, err := config.Parse("u.yaml", strings.NewReader(`name: u
cycle: 500ms
site: {stale_limit: 3s, battery_capacity_wh: 20000, soc_min: 0.1, reserve: 0.3, max_export_w: 0}
devices:
  - {name: pcc, protocol: gpio, roles: [pcc], pins: {relay: NO_SUCH_LINE}}
`))
	if err != nil {
		t.Fatal(err)
	}
	c := ControllerConfig(u)
	if c.Cycle != 500*time.Millisecond || c.StaleLimit != 3*time.Second || c.BatteryCapacity != 20000 ||
		c.SoCMin != 0.1 || c.Reserve != 0.3 || c.MaxExport != 0 || c.MaxImport != 11000 {
		t.Fatalf("controller config %+v", c)
	}
	if _, _, err := NewDeviceDaemon(u, clock.Real{}, nil); err == nil || !strings.Contains(err.Error(), "NO_SUCH_LINE") {
		t.Fatalf("a pin that does not exist: %v", err)
	}
}

// BenchmarkDeviceCycleAgainstRig is one full control cycle of the daemon on real drivers against the
// rig over loopback: poll the SunSpec inverter, read the MQTT meter, charger and load meters and
// the GPIO relays over the pin server, Step, and write what changed.
func BenchmarkDeviceCycleAgainstRig(b *testing.B) {
	pc := hil.DefaultConfig()
	pc.Start = time.Date(2026, 6, 21, 12, 0, 0, 0, time.UTC)
	r, err := rig.Start(rig.Config{Plant: pc, Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	const cycle = 100 * time.Millisecond
	u, err := config.Parse("rig.yaml", strings.NewReader(r.UnitYAML(cycle)))
	if err != nil {
		b.Fatal(err)
	}
	d, hw, err := NewDeviceDaemon(u, clock.Real{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer hw.Close()
	// Back-to-back cycles run faster than the real cycle: make every one of them poll the inverter.
	hw.Devices.PV.(*sunspec.Polled).SetMinInterval(0)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = d.Unit().Cycle(ctx)
	}
	b.StopTimer()
	if s := d.Unit().Status().Snapshot; !s.SoC.Good() || !s.GridPresent.Good() {
		b.Fatalf("readings not good at the end: SoC %v, grid present %v", s.SoC.Quality, s.GridPresent.Quality)
	}
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(cycle)*100, "%cycle@100ms")
}

// An OpenDTU PV inverter from YAML reports its configured rating, never 0 W (which the controller
// would take as "curtail PV to 0").
func TestMQTTPVInverterReportsConfiguredRating(t *testing.T) {
	broker, err := mqtt.StartBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	u, err := config.Parse("u.yaml", strings.NewReader(`name: u
cycle: 500ms
mqtt: {broker: "`+broker.URL()+`"}
devices:
  - {name: dtu, protocol: mqtt, roles: [pv], preset: opendtu, serial: "114182912345", pv_rated_w: 800}
`))
	if err != nil {
		t.Fatal(err)
	}
	hw := openHardware(t, u)
	defer hw.Close()
	var pv der.PVStatus
	waitUntil(t, 5*time.Second, "PV power read", func() bool {
		_ = broker.Publish("solar/114182912345/0/power", []byte("312.5"), false, 0)
		pv, err = hw.Devices.PV.ReadPV(context.Background())
		return err == nil
	})
	if pv.Power != 312.5 || pv.Rated != 800 {
		t.Errorf("PV %+v, want 312.5 W of a 800 W inverter", pv)
	}
}

// openHardware opens the devices of unit file u as the daemon does, on the real clock.
func openHardware(t *testing.T, u *config.Unit) *Hardware {
	t.Helper()
	hw, err := OpenDevices(u, ControllerConfig(u), clock.Real{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return hw
}
