package firmware

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/hostapd"
	"github.com/fractals-energy/fractals/der/storagenode"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/hil/rig"
)

// Each degradation step becomes real commands: hostapd's control socket and the storage node's
// HTTP API, both emulated by the rig, end in the state the step means.
func TestApplyServiceStepDrivesTheServices(t *testing.T) {
	dir := t.TempDir()
	emu, err := rig.StartHostapd(filepath.Join(dir, "wlan0"), 64, 12)
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	c, err := hostapd.Dial(filepath.Join(dir, "wlan0"), dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ap := &hostapd.AP{C: c, Limit: 64}
	node, err := rig.StartStorageNode("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	sn := &storagenode.Node{BaseURL: node.URL()}
	lim := ServiceLimits{FullClients: 64, ReducedClients: 8, Bandwidth: 250_000}
	ctx := context.Background()
	for _, c := range []struct {
		step             int
		paused, ro, wifi bool
		limit, stations  int
		bandwidth        int64
	}{
		{0, false, false, true, 64, 12, 0},
		{1, true, false, true, 64, 12, 250_000},
		{2, true, true, true, 64, 12, 250_000},
		{3, true, true, true, 8, 8, 250_000},
		{4, true, true, false, 8, 8, 250_000},
		{0, false, false, true, 64, 12, 0},
	} {
		if err := ApplyServiceStep(ctx, ap, sn, c.step, lim); err != nil {
			t.Fatalf("step %d: %v", c.step, err)
		}
		paused, ro, bw := node.State()
		wifi, limit, stations := emu.State()
		if paused != c.paused || ro != c.ro || bw != c.bandwidth || wifi != c.wifi || limit != c.limit || stations != c.stations {
			t.Errorf("step %d: storage paused=%v ro=%v bw=%d, wifi on=%v limit=%d stations=%d; want %+v",
				c.step, paused, ro, bw, wifi, limit, stations, c)
		}
		st, err := ap.ReadAccessPoint(ctx)
		if err != nil || st.Enabled != c.wifi || st.ClientLimit != c.limit || (c.wifi && st.Clients != c.stations) {
			t.Errorf("step %d: access point reads %+v %v", c.step, st, err)
		}
		ns, err := sn.ReadStorageNode(ctx)
		if err != nil || ns.ReplicationPaused != c.paused || ns.ReadOnly != c.ro || ns.BandwidthLimit != der.BytesPerSecond(c.bandwidth) {
			t.Errorf("step %d: storage node reads %+v %v", c.step, ns, err)
		}
	}
	if err := ApplyServiceStep(ctx, ap, sn, 5, lim); err == nil {
		t.Error("step 5 accepted")
	}
	// A storage node that is down does not keep the Wi-Fi from being shed.
	node.Close()
	err = ApplyServiceStep(ctx, ap, sn, 4, lim)
	if !errors.Is(err, der.ErrStale) {
		t.Errorf("storage node down: %v, want a stale error", err)
	}
	if wifi, _, _ := emu.State(); wifi {
		t.Error("Wi-Fi still on at step 4 with the storage node down")
	}
}

// The services named in the unit file are built as devices and take the degradation steps.
func TestServicesFromTheUnitFile(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "wlan0")
	emu, err := rig.StartHostapd(sock, 100, 30)
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	node, err := rig.StartStorageNode("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	u, err := config.Parse("unit.yaml", strings.NewReader(fmt.Sprintf(`name: services
devices:
  - {name: wifi, protocol: hostapd, roles: [access_point], control_socket: %q, client_limit: 32}
  - {name: igfs, protocol: storagenode, roles: [storage_node], url: %q}
`, sock, node.URL())))
	if err != nil {
		t.Fatal(err)
	}
	hw := openHardware(t, u)
	defer hw.Close()
	ctx := context.Background()
	lim := ServiceLimitsOf(u)
	if err := ApplyServiceStep(ctx, hw.AccessPoint, hw.StorageNode, 3, lim); err != nil {
		t.Fatal(err)
	}
	if on, limit, _ := emu.State(); !on || limit != 4 {
		t.Errorf("step 3: wifi on=%v limit=%d, want on with 32/8 = 4", on, limit)
	}
	if paused, ro, _ := node.State(); !paused || !ro {
		t.Errorf("step 3: storage paused=%v read-only=%v", paused, ro)
	}
	if err := ApplyServiceStep(ctx, hw.AccessPoint, hw.StorageNode, 0, lim); err != nil {
		t.Fatal(err)
	}
	if on, limit, _ := emu.State(); !on || limit != 32 {
		t.Errorf("step 0: wifi on=%v limit=%d, want 32", on, limit)
	}
	// The writer's path: the controller's step reaches both services through Devices.Services.
	if hw.Devices.Services == nil {
		t.Fatal("the unit's devices carry no service degrader")
	}
	if err := hw.Devices.Services.SetServiceStep(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if paused, ro, _ := node.State(); !paused || !ro {
		t.Errorf("step 2 through Devices.Services: storage paused=%v read-only=%v", paused, ro)
	}
	if err := hw.Devices.Services.SetServiceStep(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ dev, want string }{
		{"{name: w, protocol: hostapd, roles: [access_point], control_socket: wlan0}", "devices[0].control_socket: \"wlan0\": want an absolute path"},
		{"{name: w, protocol: hostapd, roles: [access_point], control_socket: /run/h, client_limit: 5000}", "devices[0].client_limit: 5000 outside"},
		{"{name: s, protocol: storagenode, roles: [storage_node], url: 'http://h:99999'}", "devices[0].url: \"http://h:99999\": port 99999 outside"},
		{"{name: s, protocol: storagenode, roles: [access_point], url: 'http://h:80'}", "devices[0].roles[0]: \"access_point\": a storagenode device may be storage_node"},
	} {
		_, err := config.Parse("u.yaml", strings.NewReader("name: u\ndevices:\n  - "+bad.dev+"\n"))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v\nwant %s", bad.dev, err, bad.want)
		}
	}
}

// The rig serves the services too; its unit file names them and the daemon's hardware drives them.
func TestRigServicesThroughItsUnitFile(t *testing.T) {
	pc := hil.DefaultConfig()
	r, err := rig.Start(rig.Config{Plant: pc, Listen: "127.0.0.1:0", Tick: 50 * time.Millisecond,
		HostapdSocket: filepath.Join(t.TempDir(), "wlan0")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	u, err := config.Parse("rig.yaml", strings.NewReader(r.UnitYAML(200*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	hw := openHardware(t, u)
	defer hw.Close()
	if hw.AccessPoint == nil || hw.StorageNode == nil {
		t.Fatalf("services not built: %+v %+v", hw.AccessPoint, hw.StorageNode)
	}
	if err := ApplyServiceStep(context.Background(), hw.AccessPoint, hw.StorageNode, 4, ServiceLimitsOf(u)); err != nil {
		t.Fatal(err)
	}
	if on, _, _ := r.Hostapd().State(); on {
		t.Error("Wi-Fi on at step 4")
	}
	if paused, ro, _ := r.StorageNode().State(); !paused || !ro {
		t.Errorf("storage paused=%v read-only=%v at step 4", paused, ro)
	}
}
