package firmware

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/fractals"
)

func TestEVModeByAPI(t *testing.T) {
	d, clk := newTestDaemon(t)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	ctx := context.Background()
	d.Tick(ctx)
	post := func(body string) (int, string) { return postJSON(t, srv.URL+"/api/ev", body) }
	for _, bad := range []string{`{"mode": "turbo"}`, `{}`, `{"mode": 1}`, `{"mode": "off", "x": 1}`, `not json`} {
		if code, body := post(bad); code != http.StatusBadRequest || !strings.Contains(body, "deadline") {
			t.Fatalf("%s: %d %s", bad, code, body)
		}
	}
	if got := d.Unit().Commands().EVMode; got != "deadline" {
		t.Fatalf("refused commands changed the mode to %q", got)
	}
	if code, body := post(`{"mode": "off"}`); code != http.StatusOK {
		t.Fatalf("off: %d %s", code, body)
	}
	clk.Advance(time.Second)
	d.Tick(ctx)
	st := d.Unit().Status()
	if st.State.EVMode != fractals.EVOff || st.Commands.EVPower != 0 {
		t.Fatalf("after off: mode %v, EV power %v", st.State.EVMode, st.Commands.EVPower)
	}
}

func TestCommunityRouteWithoutMeshOrLedger(t *testing.T) {
	d, _ := newTestDaemon(t)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/community")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	err = json.NewDecoder(resp.Body).Decode(&v)
	if _, hasMesh := v["mesh"]; err != nil || resp.StatusCode != http.StatusOK || !hasMesh || v["mesh"] != nil || v["ledger"] != nil {
		t.Fatalf("%d %v %v", resp.StatusCode, v, err)
	}
}
