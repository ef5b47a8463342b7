package telemetry

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// influxQuery runs an InfluxQL query through the 1.x /query endpoint and returns the first series.
func influxQuery(t *testing.T, base, db, q string) (columns []string, values [][]any) {
	t.Helper()
	resp, err := http.PostForm(base+"/query", url.Values{"db": {db}, "q": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Error  string `json:"error"`
			Series []struct {
				Columns []string `json:"columns"`
				Values  [][]any  `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if len(out.Results) == 0 || out.Results[0].Error != "" {
		t.Fatalf("%s: %+v", q, out)
	}
	if len(out.Results[0].Series) == 0 {
		return nil, nil
	}
	s := out.Results[0].Series[0]
	return s.Columns, s.Values
}

func createDatabase(t *testing.T, base, db string) {
	t.Helper()
	influxQuery(t, base, "", "CREATE DATABASE "+db)
}

// TestInfluxWritesAndQueriesBack writes an hour of the simulated unit to a real influxd through the
// v2 write API and reads it back with InfluxQL.
func TestInfluxWritesAndQueriesBack(t *testing.T) {
	port := freePort(t)
	startInfluxd(t, port)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	createDatabase(t, base, "fractals")
	d, clk := simDaemon(t)
	in, err := NewInflux(InfluxOptions{URL: base, Bucket: "fractals/autogen", Unit: "unit-a", BatchSize: 200,
		FlushInterval: 200 * time.Millisecond, BufferPoints: 100000, QueueCycles: 4096})
	if err != nil {
		t.Fatal(err)
	}
	d.AddObserver(in)
	const cycles = 3600
	tick(d, clk, cycles)
	d.StopObservers()
	st := d.Unit().Status()
	stats := in.Stats()
	if stats.DroppedQueue != 0 || stats.Written != stats.Handed || stats.Handed < 4*cycles {
		t.Fatalf("stats %+v", stats)
	}
	for _, m := range []string{"snapshot", "commands", "state", "energy"} {
		_, v := influxQuery(t, base, "fractals", fmt.Sprintf(`SELECT count(*) FROM %s WHERE unit='unit-a'`, m))
		if len(v) != 1 {
			t.Fatalf("%s: no rows", m)
		}
		// count(*) gives one count per field; every field is in every point
		for i, c := range v[0][1:] {
			if n, _ := c.(float64); n != cycles {
				t.Fatalf("%s: field %d has %v points, want %d", m, i, c, cycles)
			}
		}
	}
	cols, v := influxQuery(t, base, "fractals", `SELECT last(pv_wh), last(grid_import_wh) FROM energy WHERE unit='unit-a'`)
	if len(v) != 1 || len(cols) != 3 {
		t.Fatalf("last energy: %v %v", cols, v)
	}
	if pv := v[0][1].(float64); math.Abs(pv-float64(st.Energy.PV)) > 1e-6 {
		t.Fatalf("last pv_wh %v, status %v", pv, st.Energy.PV)
	}
	_, v = influxQuery(t, base, "fractals", `SELECT soc, soc_quality, pv_power_w FROM snapshot WHERE unit='unit-a' ORDER BY time DESC LIMIT 1`)
	if len(v) != 1 || v[0][2] != "good" || math.Abs(v[0][1].(float64)-float64(st.Snapshot.SoC.Value)) > 1e-9 {
		t.Fatalf("last snapshot %v, status soc %v", v, st.Snapshot.SoC.Value)
	}
	if at, _ := time.Parse(time.RFC3339Nano, v[0][0].(string)); !at.Equal(st.Snapshot.At) {
		t.Fatalf("last point at %v, status at %v", v[0][0], st.Snapshot.At)
	}
}

// TestInfluxDownThenUpLosesNothingWithinTheBuffer writes while the database is not there, then starts
// it: what the retry buffer held arrives.
func TestInfluxDownThenUpLosesNothingWithinTheBuffer(t *testing.T) {
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	d, clk := simDaemon(t)
	in, err := NewInflux(InfluxOptions{URL: base, Bucket: "fractals/autogen", Unit: "unit-b", BatchSize: 100,
		FlushInterval: 100 * time.Millisecond, BufferPoints: 100000, QueueCycles: 4096, RetryInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d.AddObserver(in)
	const down, up = 600, 600
	tick(d, clk, down)
	deadline := time.Now().Add(10 * time.Second)
	for in.Stats().Failures == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s := in.Stats(); s.Failures == 0 || s.Written != 0 {
		t.Fatalf("with the database down: %+v", s)
	}
	startInfluxd(t, port)
	createDatabase(t, base, "fractals")
	for i := 0; i < up; i++ { // new writes trigger the retries
		tick(d, clk, 1)
		if i%100 == 0 {
			time.Sleep(150 * time.Millisecond)
		}
	}
	deadline = time.Now().Add(20 * time.Second)
	for in.Stats().Written < in.Stats().Handed && time.Now().Before(deadline) {
		tick(d, clk, 1)
		time.Sleep(100 * time.Millisecond)
	}
	d.StopObservers()
	s := in.Stats()
	_, v := influxQuery(t, base, "fractals", `SELECT count(pv_wh) FROM energy WHERE unit='unit-b'`)
	if len(v) != 1 {
		t.Fatalf("no energy points; stats %+v", s)
	}
	n := uint64(v[0][1].(float64))
	cycles := d.Unit().Status().Cycles
	if n != cycles || s.Written != s.Handed || s.DroppedQueue != 0 {
		t.Fatalf("%d energy points for %d cycles; stats %+v", n, cycles, s)
	}
	t.Logf("%d cycles, %d written before the database came up and after; %d failed writes retried", cycles, s.Written, s.Failures)
}
