package auction

import (
	"strings"
	"testing"
)

func TestReadClearErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		`{"bids":[{"id":"b1","side":"bye","price":1,"quantity":1}]}`:     `bids[0] ("b1"): side "bye"`,
		`{"bids":[{"id":"b1","side":"buy","quantity":1}]}`:               `price missing`,
		`{"bids":[{"id":"b1","side":"buy","price":1}]}`:                  `quantity missing`,
		`{"price_cap":-1,"bids":[]}`:                                     `price_cap`,
		`{"price_cap":1.79e308,"bids":[]}`:                               `price_cap 1.79e+308, want (0, 1e+06]`,
		`{"bids":[{"id":"b1","side":"buy","price":20000,"quantity":1}]}`: `beyond the price cap`,
		`{"bids":[{"id":"b1","side":"buy","price":"x","quantity":1}]}`:   `field bids.price`,
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
		`{"periods":2,"agents":[{"id":"h1","kind":"load","demand_w":[1],"value_per_kwh":1}]}`: `agent 0 ("h1"): demand_w has 1 values, want 2`,
		`{"periods":1,"agents":[{"id":"x","kind":"wind"}]}`:                                   `kind "wind"`,
		`{"periods":1,"agents":[{"id":"b","kind":"battery","capacity_wh":1,"initial_wh":2,"max_charge_w":1,"max_discharge_w":1,"charge_efficiency":1,"discharge_efficiency":1}]}`: `initial_wh 2, want 0..1`,
		`{"periods":1,"agents":[{"id":"b","kind":"battery","capacity_wh":1,"max_charge_w":1,"max_discharge_w":1,"charge_efficiency":1.5,"discharge_efficiency":1}]}`:              `charge_efficiency 1.5`,
		`{"periods":1,"agents":[{"id":"g","kind":"grid","import_price":[1],"export_price":[2],"max_import_w":1,"max_export_w":1}]}`:                                               `export_price[0] 2 above import_price[0] 1`,
		`{"periods":1,"agents":[{"id":"e","kind":"flexible_load","energy_wh":1,"max_w":1,"deadline":5,"value_per_kwh":1}]}`:                                                       `deadline 5, want 0..1`,
		`{"periods":-3,"agents":[]}`: `periods -3`,
		`{"periods":1,"agents":[{"id":"a","kind":"pv","forecast_w":[-1],"cost_per_kwh":0}]}`:                       `forecast_w[0] -1`,
		`{"periods":1,"agents":[{"id":"a","kind":"pv","forecast_w":[1]},{"id":"a","kind":"pv","forecast_w":[1]}]}`: `id "a" used twice`,
		`{"periods":1,"agents":[{"id":"a","kind":"pv","forecast_w":[1],"colour":"red"}]}`:                          `unknown field "colour"`,
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
	f.Fuzz(func(t *testing.T, data []byte) {
		m, bids, err := ReadClear(strings.NewReader(string(data)))
		if err != nil {
			return
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
