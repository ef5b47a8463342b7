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
	} {
		var out, errOut bytes.Buffer
		if code := dispatch(append([]string{"sim"}, strings.Fields(c.args)...), nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%s: exit %d, %q, want 2 and %q", c.args, code, errOut.String(), c.want)
		}
	}
}
