package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestSimJSONHasTheDocumentedShape(t *testing.T) {
	var out, errOut bytes.Buffer
	code := dispatch([]string{"sim", "--units", "1", "--duration", "2h", "--step", "1s", "--seed", "7", "--json"}, nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r map[string]any
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"units", "sim_seconds", "wall_seconds", "energy_wh", "battery", "ev"} {
		if _, ok := r[k]; !ok {
			t.Errorf("result lacks %q", k)
		}
	}
	sub := func(name string, keys ...string) {
		m, _ := r[name].(map[string]any)
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("%s lacks %q", name, k)
			}
		}
	}
	sub("energy_wh", "pv", "pv_curtailed", "load", "critical_load", "critical_unserved", "services_unserved",
		"battery_charge", "battery_discharge", "grid_import", "grid_export")
	sub("battery", "stored_start_wh", "stored_end_wh", "charge_efficiency", "discharge_efficiency", "soc_min",
		"soc_max", "soc_floor", "soc_ceiling")
	sub("ev", "energy_needed_wh", "energy_delivered_wh", "deadline_met")
	if r["sim_seconds"].(float64) != 7200 || r["units"].(float64) != 1 {
		t.Errorf("sim_seconds %v units %v", r["sim_seconds"], r["units"])
	}
}

func TestSimBadInputIsOneLineAndExit2(t *testing.T) {
	cases := map[string][]string{
		"--units":       {"--units", "0"},
		"--step":        {"--step", "5ms"},
		"--duration":    {"--duration", "soon"},
		"--grid":        {"--grid=maybe"},
		"--latitude":    {"--latitude", "91"},
		"--day":         {"--day", "367"},
		"--pv-kw":       {"--pv-kw", "-2"},
		"--battery-kwh": {"--battery-kwh", "0"},
		"--ev-kwh":      {"--ev-kwh", "x"},
		"--seed":        {"--seed", "-1"},
		"bogus":         {"--bogus"},
		"extra":         {"extra"},
	}
	for name, args := range cases {
		var out, errOut bytes.Buffer
		code := dispatch(append([]string{"sim"}, args...), nil, &out, &errOut)
		msg := errOut.String()
		if code != 2 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, strings.TrimPrefix(name, "--")) {
			t.Errorf("%s: exit %d, stderr %q: want exit 2 and one line naming it", name, code, msg)
		}
		if name != "bogus" && name != "extra" && !strings.Contains(msg, "[") && !strings.Contains(msg, "(") {
			t.Errorf("%s: %q does not give the accepted range", name, msg)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"nope"}, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "sim") {
		t.Fatalf("exit %d, %q", code, errOut.String())
	}
}

// FuzzSimFlags: any command line is either accepted with valid options or refused in one line.
func FuzzSimFlags(f *testing.F) {
	f.Add("--units 3 --duration 1h --grid=off")
	f.Add("--day 400 --latitude nan")
	f.Add("--step -1s --pv-kw 1e308")
	f.Fuzz(func(t *testing.T, line string) {
		var errOut bytes.Buffer
		o, _, code := parseSim(strings.Fields(line), &errOut)
		switch code {
		case -1:
			if err := o.Validate(); err != nil {
				t.Fatalf("accepted invalid options %+v: %v", o, err)
			}
		case 0, 2:
			if code == 2 && strings.Count(errOut.String(), "\n") != 1 {
				t.Fatalf("refusal is not one line: %q", errOut.String())
			}
		default:
			t.Fatalf("exit %d", code)
		}
	})
}

func TestSimRefusesNaN(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"sim", "--latitude", "NaN"}, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "--latitude") {
		t.Fatalf("NaN latitude: exit %d, %q", code, errOut.String())
	}
}
