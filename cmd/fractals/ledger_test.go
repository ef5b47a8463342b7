package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestLedgerBenchJSON(t *testing.T) {
	var out, errb bytes.Buffer
	code := dispatch([]string{"ledger", "bench", "--transfers", "300", "--json", "--dir", t.TempDir()}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r struct {
		Transfers int     `json:"transfers"`
		Seconds   float64 `json:"seconds"`
		TPS       float64 `json:"tps"`
		P50       float64 `json:"p50_ms"`
		P99       float64 `json:"p99_ms"`
		Durable   bool    `json:"durable"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if r.Transfers != 300 || !r.Durable || r.Seconds <= 0 || r.TPS <= 0 || r.P99 < r.P50 {
		t.Fatalf("implausible result %+v", r)
	}
}

func TestLedgerBenchMediated(t *testing.T) {
	var out, errb bytes.Buffer
	if code := dispatch([]string{"ledger", "bench", "--transfers", "30", "--hops", "3"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "30 transfers over 3 hop(s)") {
		t.Fatalf("output %q", out.String())
	}
}

func TestLedgerBenchRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"ledger", "bench", "--transfers", "0"},
		{"ledger", "bench", "--hops", "2"},
		{"ledger", "bench", "--inflight", "5000"},
		{"ledger", "bench", "--inflight", "0", "--hops", "3"},
		{"ledger"},
		{"ledger", "frobnicate"},
	} {
		var out, errb bytes.Buffer
		if code := dispatch(args, nil, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if !strings.Contains(errb.String(), "fractals") || strings.Count(errb.String(), "\n") < 1 {
			t.Errorf("%v: error %q does not explain", args, errb.String())
		}
	}
}

// TestLedgerBenchSaysWhenItReusesADir: a second run on the same --dir says so in words.
func TestLedgerBenchSaysWhenItReusesADir(t *testing.T) {
	dir := t.TempDir()
	for run := 0; run < 2; run++ {
		var out, errb bytes.Buffer
		if code := dispatch([]string{"ledger", "bench", "--transfers", "50", "--dir", dir}, nil, &out, &errb); code != 0 {
			t.Fatalf("run %d: exit %d: %s", run, code, errb.String())
		}
		reused := strings.Contains(out.String(), "note: reused 2 store(s) an earlier run left in "+dir)
		if reused != (run == 1) {
			t.Fatalf("run %d: %q", run, out.String())
		}
	}
}
