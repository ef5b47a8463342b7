package auction

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestReadClearErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		`{"bids":[{"id":"b1","side":"bye","price":1,"quantity":1}]}`:     `bids[0] (id "b1"): side "bye"`,
		`{"bids":[{"id":"b1","side":"buy","quantity":1}]}`:               `price missing`,
		`{"bids":[{"id":"b1","side":"buy","price":1}]}`:                  `quantity missing`,
		`{"price_cap":-1,"bids":[]}`:                                     `price_cap`,
		`{"price_cap":1.79e308,"bids":[]}`:                               `price_cap 1.79e+308, want (0, 1e+06]`,
		`{"bids":[{"id":"b1","side":"buy","price":20000,"quantity":1}]}`: `beyond the price cap`,
		`{"bids":[{"id":"b1","side":"buy","price":"x","quantity":1}]}`:   `bids[0] (id "b1"): price: want a number, got a string`,
		`{"bids":[],"extra":1}`:                                          `unknown field "extra"`,
		`{}`:                                                             `bids missing`,
		`{"bids":[]} {}`:                                                 `trailing data`,
	}
	for in, want := range cases {
		_, _, err := ReadClear(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to mention %q", in, err, want)
		}
	}
	m, bids, err := ReadClear(strings.NewReader(`{"price_cap":100,"bids":[{"id":"b1","side":"sell","price":-5,"quantity":2.5}]}`))
	if err != nil || m.PriceCap != 100 || len(bids) != 1 || bids[0] != (Bid{ID: "b1", Side: Sell, Price: -5, Quantity: 2.5}) {
		t.Fatalf("got %+v %+v %v", m, bids, err)
	}
}

func TestReadProblemErrorsNameTheAgent(t *testing.T) {
	cases := map[string]string{
		`{"periods":2,"agents":[{"id":"h1","kind":"load","demand_w":[1],"value_per_kwh":1}]}`: `agents[0] (id "h1"): demand_w has 1 values, want 2`,
		`{"periods":1,"agents":[{"id":"x","kind":"wind"}]}`:                                   `kind "wind"`,
		`{"periods":1,"agents":[{"id":"b","kind":"battery","capacity_wh":1,"initial_wh":2,"max_charge_w":1,"max_discharge_w":1,"charge_efficiency":1,"discharge_efficiency":1,"cost_per_kwh":0}]}`: `initial_wh 2, want 0..1`,
		`{"periods":1,"agents":[{"id":"b","kind":"battery","capacity_wh":1,"max_charge_w":1,"max_discharge_w":1,"charge_efficiency":1.5,"discharge_efficiency":1,"cost_per_kwh":0}]}`:              `charge_efficiency 1.5`,
		`{"periods":1,"agents":[{"id":"g","kind":"grid","import_price":[1],"export_price":[2],"max_import_w":1,"max_export_w":1}]}`:                                                                `export_price[0] 2 above import_price[0] 1`,
		`{"periods":1,"agents":[{"id":"e","kind":"flexible_load","energy_wh":1,"max_w":1,"deadline":5,"value_per_kwh":1}]}`:                                                                        `deadline 5, want 0..1`,
		`{"periods":-3,"agents":[]}`: `periods -3`,
		`{"periods":1,"agents":[{"id":"a","kind":"pv","forecast_w":[-1],"cost_per_kwh":0}]}`:                                                         `forecast_w[0] -1`,
		`{"periods":1,"agents":[{"id":"a","kind":"pv","forecast_w":[1],"cost_per_kwh":0},{"id":"a","kind":"pv","forecast_w":[1],"cost_per_kwh":0}]}`: `agents[1] (id "a"): id used twice, already by agents[0]`,
		`{"periods":1,"agents":[{"id":"a","kind":"pv","forecast_w":[1],"colour":"red"}]}`:                                                            `agents[0] (id "a"): unknown field "colour"`,
	}
	for in, want := range cases {
		_, err := ReadProblem(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to mention %q", in, err, want)
		}
	}
	p, err := ReadProblem(strings.NewReader(`{"agents":[{"id":"h","kind":"load","demand_w":[` + strings.Repeat("1,", 23) + `1],"value_per_kwh":0.3}]}`))
	if err != nil || p.Periods != 24 || p.PeriodHours != 1 {
		t.Fatalf("defaults: %+v %v", p, err)
	}
}

func FuzzReadClear(f *testing.F) {
	f.Add([]byte(`{"price_cap":9999,"bids":[{"id":"b1","side":"buy","price":40,"quantity":5},{"id":"s1","side":"sell","price":30,"quantity":-2}]}`))
	f.Add([]byte(`{"bids":[]}`))
	f.Add([]byte(`{"bids":[{"id":"b","side":"sell","price":1e308,"quantity":1e308}]}`))
	f.Add([]byte(`{"bids":[{"id":"b","side":"buy","price":40,"quantity":3},{"id":"b","side":"sell","price":10,"quantity":5}]}`))
	f.Add([]byte(`{"bids":[{"id":"b","side":"buy","price":40,"price":1,"quantity":3}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, bids, err := ReadClear(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		ids := make(map[string]bool, len(bids))
		for _, b := range bids {
			if ids[b.ID] {
				t.Fatalf("accepted two bids of id %q", b.ID)
			}
			ids[b.ID] = true
		}
		r, err := m.Clear(bids)
		if err != nil {
			t.Fatalf("accepted input does not clear: %v", err)
		}
		checkFeasible(t, bids, r, m.PriceCap)
	})
}

func FuzzReadProblem(f *testing.F) {
	f.Add([]byte(`{"periods":2,"period_hours":1,"agents":[{"id":"h","kind":"load","demand_w":[100,200],"value_per_kwh":0.5},{"id":"pv","kind":"pv","forecast_w":[300,0],"cost_per_kwh":0.01},{"id":"b","kind":"battery","capacity_wh":500,"initial_wh":100,"max_charge_w":200,"max_discharge_w":200,"charge_efficiency":0.95,"discharge_efficiency":0.95,"cost_per_kwh":0.02}]}`))
	f.Add([]byte(`{"periods":1,"agents":[{"id":"g","kind":"grid","import_price":[0.3],"export_price":[0.1],"max_import_w":1000,"max_export_w":1000},{"id":"e","kind":"flexible_load","energy_wh":100,"max_w":50,"deadline":1,"value_per_kwh":0.4}]}`))
	f.Add([]byte(`{"periods":1,"agents":[{"id":"a","kind":"pv","forecast_w":[1],"cost_per_kwh":0,"kind":"load"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadProblem(strings.NewReader(string(data)))
		if err != nil || p.Periods > 48 || len(p.Agents) > 20 {
			return
		}
		sol, err := Solve(p, Central, ADMMOptions{})
		if err != nil {
			t.Fatalf("valid problem not solved: %v", err)
		}
		checkSchedules(t, p, sol, 1e-3)
	})
}

// goTypeNames are what a reader error must not show: the user wrote JSON, not Go.
var goTypeNames = []string{"float64", "int64", " int ", "units.", "Watts", "expected", "json:", "[]"}

func checkReaderError(t *testing.T, in string, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: error %v, want it to mention %q", in, err, want)
		return
	}
	for _, name := range goTypeNames {
		if strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %q shows %q", in, err, name)
		}
	}
}

// TestReaderErrorsNameIndexAndID: type errors and unknown fields inside a bid or an agent once read
// `field bids.price: string where float64 expected (byte 44)` or `JSON: json: unknown field "extra"`,
// naming neither the bid nor the agent; each element is now read on its own.
func TestReaderErrorsNameIndexAndID(t *testing.T) {
	bid := `{"id":"b0","side":"buy","price":1,"quantity":1}`
	clearCases := map[string]string{
		`{"bids":[` + bid + `,{"id":"b7","side":"buy","price":"40","quantity":1}]}`: `bids[1] (id "b7"): price: want a number, got a string`,
		`{"bids":[{"id":"b7","side":"buy","price":40,"quantity":true}]}`:            `bids[0] (id "b7"): quantity: want a number, got a boolean`,
		`{"bids":[{"id":"b7","side":1,"price":40,"quantity":1}]}`:                   `bids[0] (id "b7"): side: want a string, got a number`,
		`{"bids":[{"id":7,"side":"buy","price":40,"quantity":1}]}`:                  `bids[0]: id: want a string, got a number`,
		`{"bids":[{"id":"b7","side":"buy","price":40,"quantity":1,"extra":1}]}`:     `bids[0] (id "b7"): unknown field "extra"`,
		`{"bids":[{"id":"b7","side":"buy","price":null,"quantity":1}]}`:             `bids[0] (id "b7"): price: want a number, got null`,
		`{"bids":[{"id":"b7","side":"buy","price":1e400,"quantity":1}]}`:            `bids[0] (id "b7"): price: want a number, got 1e400`,
		`{"bids":[` + bid + `,[1]]}`:                                                `bids[1]: want an object, got an array`,
		`{"bids":{}}`:                                                               `bids: want an array, got an object`,
		`{"price_cap":"high","bids":[]}`:                                            `price_cap: want a number, got a string`,
		`{"bids":[],"extra":1}`:                                                     `unknown field "extra"`,
		`[]`:                                                                        `input: want an object, got an array`,
		``:                                                                          `input empty`,
		`{"bids":[}`:                                                                `JSON syntax at byte`,
	}
	for in, want := range clearCases {
		_, _, err := ReadClear(strings.NewReader(in))
		checkReaderError(t, in, err, want)
	}
	problemCases := map[string]string{
		`{"periods":1,"agents":[{"id":"h1","kind":"load","demand_w":["1"],"value_per_kwh":1}]}`:                                       `agents[0] (id "h1"): demand_w[0]: want a number, got a string`,
		`{"periods":1,"agents":[{"id":"h1","kind":"load","demand_w":5,"value_per_kwh":1}]}`:                                           `agents[0] (id "h1"): demand_w: want an array, got a number`,
		`{"periods":1,"agents":[{"id":"e","kind":"flexible_load","energy_wh":1,"max_w":1,"deadline":0.5,"value_per_kwh":1}]}`:         `agents[0] (id "e"): deadline: want an integer, got 0.5`,
		`{"periods":1,"agents":[{"id":"h0","kind":"pv","forecast_w":[1],"cost_per_kwh":0},{"id":"bat1","kind":"battery","extra":1}]}`: `agents[1] (id "bat1"): unknown field "extra"`,
		`{"periods":1,"agents":[{"id":"x","kind":7}]}`:                                                                                `agents[0] (id "x"): kind: want a string, got a number`,
		`{"periods":"24","agents":[]}`:                      `periods: want an integer, got a string`,
		`{"periods":1,"period_hours":[1],"agents":[]}`:      `period_hours: want a number, got an array`,
		`{"periods":1,"agents":[3]}`:                        `agents[0]: want an object, got a number`,
		`{"periods":1}`:                                     `agents missing`,
		`{"periods":1,"agents":[{"kind":"pv"}]}`:            `agents[0]: id missing`,
		`{"periods":1,"agents":[{"id":"x"}]}`:               `agents[0] (id "x"): kind missing`,
		`{"periods":1,"agents":[{"id":"x","kind":"wind"}]}`: `agents[0] (id "x"): kind "wind"`,
	}
	for in, want := range problemCases {
		_, err := ReadProblem(strings.NewReader(in))
		checkReaderError(t, in, err, want)
	}
}

// TestInputHygiene: trailing data after the object, "periods":0 (read as 24), a period of a
// microsecond, a field that does not apply to the agent's kind and a missing required field (read as 0)
// were all accepted; each is now refused by name.
func TestInputHygiene(t *testing.T) {
	clearCases := map[string]string{
		`{"bids":[]} ]`:  `trailing data`,
		`{"bids":[]} }`:  `trailing data`,
		`{"bids":[]} {}`: `trailing data`,
		`{"bids":[]} x`:  `trailing data`,
	}
	for in, want := range clearCases {
		_, _, err := ReadClear(strings.NewReader(in))
		checkReaderError(t, in, err, want)
	}
	if _, _, err := ReadClear(strings.NewReader("{\"bids\":[]}\n\t ")); err != nil {
		t.Errorf("trailing white space refused: %v", err)
	}
	pv := `{"id":"pv","kind":"pv","forecast_w":[1],"cost_per_kwh":0}`
	problemCases := map[string]string{
		`{"periods":0,"agents":[` + pv + `]}`:                                                                                                                      `periods 0, want 1..8760`,
		`{"periods":null,"agents":[` + pv + `]}`:                                                                                                                   `periods: want an integer, got null`,
		`{"periods":1,"period_hours":0,"agents":[` + pv + `]}`:                                                                                                     `period_hours 0, want 1/60 (one minute)..24`,
		`{"periods":1,"period_hours":0.0001,"agents":[` + pv + `]}`:                                                                                                `period_hours 0.0001, want 1/60`,
		`{"periods":1,"period_hours":24.5,"agents":[` + pv + `]}`:                                                                                                  `period_hours 24.5`,
		`{"periods":1,"agents":[{"id":"h1","kind":"load","demand_w":[1],"value_per_kwh":1,"capacity_wh":5}]}`:                                                      `agents[0] (id "h1"): field capacity_wh does not apply to kind load`,
		`{"periods":1,"agents":[{"id":"pv","kind":"pv","forecast_w":[1],"cost_per_kwh":0,"max_w":5}]}`:                                                             `agents[0] (id "pv"): field max_w does not apply to kind pv`,
		`{"periods":1,"agents":[{"id":"h1","kind":"load","demand_w":[1]}]}`:                                                                                        `agents[0] (id "h1"): value_per_kwh missing`,
		`{"periods":1,"agents":[{"id":"g","kind":"grid","import_price":[1],"export_price":[0],"max_export_w":1}]}`:                                                 `agents[0] (id "g"): max_import_w missing`,
		`{"periods":1,"agents":[{"id":"e","kind":"flexible_load","energy_wh":1,"max_w":1,"value_per_kwh":1}]}`:                                                     `agents[0] (id "e"): deadline missing`,
		`{"periods":1,"agents":[{"id":"b","kind":"battery","capacity_wh":1,"max_charge_w":1,"max_discharge_w":1,"charge_efficiency":1,"discharge_efficiency":1}]}`: `agents[0] (id "b"): cost_per_kwh missing`,
		`{"periods":1,"agents":[{"id":"pv","kind":"pv","cost_per_kwh":0}]}`:                                                                                        `agents[0] (id "pv"): forecast_w missing`,
	}
	for in, want := range problemCases {
		_, err := ReadProblem(strings.NewReader(in))
		checkReaderError(t, in, err, want)
	}
	// Absent periods and period_hours default to 24 and 1; a battery may leave out initial_wh (empty).
	p, err := ReadProblem(strings.NewReader(`{"agents":[{"id":"b","kind":"battery","capacity_wh":1,"max_charge_w":1,"max_discharge_w":1,"charge_efficiency":1,"discharge_efficiency":1,"cost_per_kwh":0}]}`))
	if err != nil || p.Periods != 24 || p.PeriodHours != 1 || p.Agents[0].InitialWh != 0 {
		t.Fatalf("defaults: %+v %v", p, err)
	}
	if _, err := ReadProblem(strings.NewReader(`{"periods":1,"period_hours":0.016666666666666666,"agents":[` + pv + `]}`)); err != nil {
		t.Fatalf("a one-minute period refused: %v", err)
	}
}

// TestOutputsHaveNoNegativeZero: a buyer at -0 cleared at a price of -0, and an idle PV's distributed
// schedule was -0, which JSON printed as "-0".
func TestOutputsHaveNoNegativeZero(t *testing.T) {
	bids := []Bid{{ID: "s", Side: Sell, Price: 0, Quantity: 1}, {ID: "b", Side: Buy, Price: math.Copysign(0, -1), Quantity: 1}}
	r, err := Market{}.Clear(bids)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(r.Output(bids))
	if err != nil || strings.Contains(string(out), "-0") {
		t.Fatalf("clearing output %s (%v) has -0", out, err)
	}
	p, err := ReadProblem(strings.NewReader(`{"periods":2,"agents":[{"id":"h","kind":"load","demand_w":[0,100],"value_per_kwh":0.5},{"id":"pv","kind":"pv","forecast_w":[0,0],"cost_per_kwh":0.01},{"id":"g","kind":"grid","import_price":[0.3,0.3],"export_price":[0.1,0.1],"max_import_w":1000,"max_export_w":0}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Method{Central, Distributed} {
		sol, err := Solve(p, m, ADMMOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range append(append([]float64{sol.Welfare, sol.MaxImbalanceW}, sol.Prices...), append(sol.Schedules["pv"], sol.Schedules["h"]...)...) {
			if v == 0 && math.Signbit(v) {
				t.Fatalf("%s: -0 in %+v", m, sol)
			}
		}
	}
}

// TestDuplicatesRefused: `auction clear` accepted two bids named b and answered two allocations named b,
// and a repeated JSON key silently kept its last value. Both are refused, naming the id or the key and
// where it is.
func TestDuplicatesRefused(t *testing.T) {
	clearCases := map[string]string{
		`{"bids":[{"id":"b","side":"buy","price":40,"quantity":3},{"id":"b","side":"sell","price":10,"quantity":5}]}`: `bids[1] (id "b"): id already used by bids[0]`,
		`{"bids":[{"id":"b","side":"buy","price":40,"price":1,"quantity":3}]}`:                                        `bids[0].price: key "price" appears twice`,
		`{"bids":[],"bids":[]}`:                   `bids: key "bids" appears twice`,
		`{"price_cap":1,"bids":[],"price_cap":2}`: `price_cap: key "price_cap" appears twice`,
	}
	for in, want := range clearCases {
		_, _, err := ReadClear(strings.NewReader(in))
		checkReaderError(t, in, err, want)
	}
	problemCases := map[string]string{
		`{"periods":1,"agents":[{"id":"a","kind":"pv","forecast_w":[1],"cost_per_kwh":0},{"id":"a","kind":"pv","forecast_w":[1],"cost_per_kwh":0}]}`: `agents[1] (id "a"): id used twice, already by agents[0]`,
		`{"periods":1,"agents":[{"id":"a","kind":"pv","forecast_w":[1],"cost_per_kwh":0,"kind":"load"}]}`:                                            `agents[0].kind: key "kind" appears twice`,
		`{"periods":1,"periods":2,"agents":[]}`: `periods: key "periods" appears twice`,
	}
	for in, want := range problemCases {
		_, err := ReadProblem(strings.NewReader(in))
		checkReaderError(t, in, err, want)
	}
	// Equal keys in different objects are not duplicates.
	if _, _, err := ReadClear(strings.NewReader(`{"bids":[{"id":"a","side":"buy","price":1,"quantity":1},{"id":"b","side":"sell","price":1,"quantity":1}]}`)); err != nil {
		t.Fatalf("distinct bids refused: %v", err)
	}
}
