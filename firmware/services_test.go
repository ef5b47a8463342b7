package firmware

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/hostapd"
	"github.com/fractals-energy/fractals/der/storagenode"
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
