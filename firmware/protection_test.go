package firmware

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/hil"
	"github.com/fractals-energy/fractals/internal/clock"
)

// Between two 1 s cycles the 100 ms protection ticks see the utility go and open the PCC within a tick.
func TestProtectionTickOpensThePCCBetweenCycles(t *testing.T) {
	o := DefaultSimOptions()
	o.Outages = []hil.Outage{{From: 10 * time.Second, To: time.Hour}}
	pc := o.PlantConfig(0)
	clk := clock.NewSim(pc.Start)
	plant, unit, err := newSimulatedUnit(pc, time.Second, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const tick = 100 * time.Millisecond
	for plant.Elapsed() < 10*time.Second {
		if plant.Elapsed()%time.Second == 0 {
			_ = unit.Cycle(ctx)
		} else if err := unit.ProtectionTick(ctx); err != nil {
			t.Fatal(err)
		}
		plant.Advance(tick)
		clk.Advance(tick)
	}
	// The plant's utility is now out; the next protection tick (not a cycle) acts.
	if err := unit.ProtectionTick(ctx); err != nil {
		t.Fatal(err)
	}
	st := unit.Status().State
	if st.Island.Phase != fractals.PhaseOpening || plant.Grid().PCCClosed {
		t.Fatalf("one tick after the loss: phase %v, PCC closed %v", st.Island.Phase, plant.Grid().PCCClosed)
	}
	plant.Advance(tick)
	clk.Advance(tick)
	if err := unit.ProtectionTick(ctx); err != nil {
		t.Fatal(err)
	}
	if ph := unit.Status().State.Island.Phase; ph != fractals.PhaseIslanded {
		t.Fatalf("two ticks after the loss: phase %v, want islanded", ph)
	}
}

func TestPlannedIslandByAPI(t *testing.T) {
	d, clk := newTestDaemon(t)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	ctx := context.Background()
	d.Tick(ctx)
	post := func(body string) (int, string) { return postJSON(t, srv.URL+"/api/island", body) }
	if code, body := post(`{"island": "yes"}`); code != http.StatusBadRequest || !strings.Contains(body, "island") {
		t.Fatalf("bad body: %d %s", code, body)
	}
	if code, _ := post(`{"island": true}`); code != http.StatusOK {
		t.Fatalf("planned island: %d", code)
	}
	for range 3 {
		clk.Advance(time.Second)
		d.Tick(ctx)
	}
	st := d.Unit().Status()
	if st.State.Island.Phase != fractals.PhaseIslanded || st.Commands.PCCClosed || !st.Snapshot.GridForming.Value {
		t.Fatalf("planned island: phase %v, PCC %v, forming %v", st.State.Island.Phase, st.Commands.PCCClosed, st.Snapshot.GridForming.Value)
	}
	if code, _ := post(`{"island": false}`); code != http.StatusOK {
		t.Fatalf("withdraw: %d", code)
	}
	for range 400 {
		clk.Advance(time.Second)
		d.Tick(ctx)
	}
	if ph := d.Unit().Status().State.Island.Phase; ph != fractals.PhaseConnected {
		t.Fatalf("withdrawn 400 s ago: phase %v, want connected after enter-service and synchronisation", ph)
	}
}

// postJSON posts body to url and returns the status code and the answer's body.
func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}
