package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestSimCommunityJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	code := dispatch([]string{"sim", "--units", "3", "--duration", "1h", "--feeder", "../../grid/testdata/case33bw.m", "--json"}, nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r map[string]any
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"market", "payments", "feeder", "energy_wh"} {
		if r[k] == nil {
			t.Fatalf("no %q in %s", k, out.String())
		}
	}
	if m := r["market"].(map[string]any); m["intervals"].(float64) != 4 || m["cleared"].(float64) != 4 {
		t.Fatalf("market %v", m)
	}
}

func TestSimCommunityBadFlags(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"--market --units 1", "--units 1 out of range [2, 1000]"},
		{"--market --market-method lp", "--market-method \"lp\""},
		{"--market --market-interval 2m", "market interval 2m0s out of range"},
		{"--market --liars 1,x", "--liars: item 1"},
		{"--market --partition 10-12", "--partition \"10-12\": want HH:MM-HH:MM"},
		{"--market --partition 12:00-10:00", "--partition 12h0m0s-10h0m0s"},
		{"--market --adversary 3", "--adversary \"3\": want N:forge+replay+flood"},
		{"--market --adversary 1:lie", "move \"lie\""},
		{"--market --market-method distributed --adversary 1:forge", "adversary 1: want a unit (0..2) of a consensus market"},
		{"--market --ev-arrive 7 --ev-depart 7", "--ev-arrive 7 / --ev-depart 7"},
	} {
		var out, errOut bytes.Buffer
		if code := dispatch(append([]string{"sim"}, strings.Fields(c.args)...), nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%s: exit %d, %q, want 2 and %q", c.args, code, errOut.String(), c.want)
		}
	}
}

// TestSimCommunityScenarioFlags: a partition and an adversary reach the run and its summary.
func TestSimCommunityScenarioFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	args := strings.Fields("sim --units 4 --market --market-method consensus --duration 2h --step 10s --horizon 1h --day 180 " +
		"--partition 00:30-01:00 --adversary 3:replay --record-intervals --json")
	if code := dispatch(args, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r struct {
		Market struct {
			Cleared     int `json:"cleared"`
			Partitioned int `json:"partitioned_intervals"`
		} `json:"market"`
		Attacks   struct{ Replayed, Refused int } `json:"attacks"`
		Intervals []struct{ Parts int }           `json:"intervals"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Market.Cleared != 8 || r.Market.Partitioned != 2 || r.Attacks.Replayed == 0 || len(r.Intervals) != 8 || r.Intervals[2].Parts != 2 {
		t.Fatalf("summary %+v", r)
	}
}
