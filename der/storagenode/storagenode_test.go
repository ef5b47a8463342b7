package storagenode

import (
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	st, err := ParseStatus([]byte(`{"replication":"paused","read_only":true,"bandwidth_limit_bps":125000}`))
	if err != nil || st.Replication != "paused" || !st.ReadOnly || st.BandwidthLimitBps != 125000 {
		t.Fatalf("%+v %v", st, err)
	}
	for in, want := range map[string]string{
		`{"replication":"stopped"}`:                          `replication "stopped"`,
		`{"replication":"running","bandwidth_limit_bps":-1}`: "negative",
		`{"replication":"running","extra":1}`:                `unknown field "extra"`,
		`{"replication":"running","read_only":"yes"}`:        "cannot unmarshal string",
		`not json`: "invalid character",
		`{"replication":"running","bandwidth_limit_bps":1e999}`: "cannot unmarshal",
	} {
		if _, err := ParseStatus([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %s", in, err, want)
		}
	}
}

// FuzzParseStatus: any reply parses into a valid status or fails, never panics.
func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(`{"replication":"running","read_only":false,"bandwidth_limit_bps":0}`))
	f.Add([]byte(`{"replication":"paused"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := ParseStatus(body)
		if err == nil && (st.BandwidthLimitBps < 0 || (st.Replication != "running" && st.Replication != "paused")) {
			t.Fatalf("%q: %+v", body, st)
		}
	})
}
