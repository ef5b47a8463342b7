package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/der/sunspec"
)

func TestSunSpecScanJSON(t *testing.T) {
	m, err := sunspec.NewMap(40000, sunspec.ModelSpec{ID: 1}, sunspec.ModelSpec{ID: 103}, sunspec.ModelSpec{ID: 802})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		m.SetString(1, "Mn", "FRACTALS"), m.Set(103, "W_SF", 1), m.Set(103, "W", 69000),
		m.Set(103, "St", 4), m.Set(802, "SoC_SF", 0), m.Set(802, "SoC", 80),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	srv := modbus.NewServer(map[byte]modbus.Bank{3: m}, 1)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"sunspec", "scan", "--addr", srv.Addr(), "--unit", "3", "--json"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var res struct {
		Models []struct {
			ID      int `json:"id"`
			Address int `json:"address"`
			Length  int `json:"length"`
			Points  map[string]struct {
				Value any    `json:"value"`
				Units string `json:"units"`
			} `json:"points"`
		} `json:"models"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(res.Models) != 3 || res.Models[1].ID != 103 || res.Models[1].Address != 40070 || res.Models[1].Length != 50 {
		t.Fatalf("models %+v", res.Models)
	}
	p := res.Models[1].Points
	if p["W"].Value != 69000.0 || p["W"].Units != "W" {
		t.Errorf("W %+v", p["W"])
	}
	if p["DCW"].Value != nil {
		t.Errorf("DCW %+v, want null", p["DCW"])
	}
	if p["St"].Value != 4.0 {
		t.Errorf("St (enumeration) %+v, want 4", p["St"])
	}
	if res.Models[0].Points["Mn"].Value != "FRACTALS" {
		t.Errorf("Mn %+v", res.Models[0].Points["Mn"])
	}
}

func TestSunSpecScanUsage(t *testing.T) {
	for _, args := range [][]string{
		{"sunspec"}, {"sunspec", "probe"}, {"sunspec", "scan"}, {"sunspec", "scan", "--addr", "x:1", "--unit", "300"},
		{"sunspec", "scan", "--addr", "x:1", "--timeout", "1ns"},
	} {
		var out, errOut bytes.Buffer
		if code := dispatch(args, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "sunspec") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	// Nothing listens on port 1 of loopback: the scan fails at run time (exit 1), not as usage.
	if code := dispatch([]string{"sunspec", "scan", "--addr", "127.0.0.1:1", "--timeout", "200ms"}, nil, &out, &errOut); code != 1 {
		t.Errorf("unreachable device: exit %d, %s", code, errOut.String())
	}
}

// silentAbove40000 does not answer for registers at or above 40000 (it holds each such reply
// longer than the scan's timeout), as devices do that serve their SunSpec map at 0 only.
type silentAbove40000 struct{ *sunspec.Map }

func (s silentAbove40000) ReadRegisters(addr, n uint16) ([]uint16, error) {
	if addr >= 40000 {
		time.Sleep(300 * time.Millisecond)
		return nil, sunspec.ErrIllegalAddress
	}
	return s.Map.ReadRegisters(addr, n)
}

func TestSunSpecScanFindsMapAtZeroAfterTimeoutAt40000(t *testing.T) {
	m, err := sunspec.NewMap(0, sunspec.ModelSpec{ID: 1}, sunspec.ModelSpec{ID: 103})
	if err != nil {
		t.Fatal(err)
	}
	srv := modbus.NewServer(map[byte]modbus.Bank{1: silentAbove40000{m}}, 1)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"sunspec", "scan", "--addr", srv.Addr(), "--timeout", "100ms", "--json"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var res struct {
		Base   int `json:"base"`
		Models []struct {
			ID int `json:"id"`
		} `json:"models"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if res.Base != 0 || len(res.Models) != 2 || res.Models[1].ID != 103 {
		t.Errorf("scan found %+v, want models 1 and 103 at base 0", res)
	}
}
