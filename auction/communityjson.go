package auction

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ReadCommunity reads a bilateral market, the extended `fractals auction solve` format:
//
//	{"periods": 4, "period_hours": 1,
//	 "units": [{"id": "u1", "agents": [ ...agents as in ReadProblem... ]}, ...],
//	 "links": [{"a": "u1", "b": "u2", "charge_per_kwh": 0.01, "max_w": 6000}, ...]}
//
// with the same strictness as ReadProblem (every error names the unit, agent or link and the field;
// duplicate keys and ids are refused) and validates it. Absent periods and period_hours are 24 and 1.
func ReadCommunity(r io.Reader) (Community, error) {
	top, err := readObject(r)
	if err != nil {
		return Community{}, err
	}
	c := Community{Periods: DefaultPeriods, PeriodHours: 1}
	var rawUnits, rawLinks []json.RawMessage
	present, err := decodeFields(top, "", map[string]any{"periods": &c.Periods, "period_hours": &c.PeriodHours, "units": &rawUnits, "links": &rawLinks})
	if err != nil {
		return Community{}, err
	}
	if !present["units"] {
		return Community{}, errors.New("units missing, want an array of units")
	}
	if !present["links"] {
		return Community{}, errors.New("links missing, want an array of links (empty when no unit trades)")
	}
	for i, raw := range rawUnits {
		u, err := readUnit(raw, i)
		if err != nil {
			return Community{}, err
		}
		c.Units = append(c.Units, u)
	}
	for i, raw := range rawLinks {
		obj, where, err := element(raw, "links", i)
		if err != nil {
			return Community{}, err
		}
		var l Link
		present, err := decodeFields(obj, where, map[string]any{"a": &l.A, "b": &l.B, "charge_per_kwh": &l.ChargePerKWh, "max_w": &l.MaxW})
		if err != nil {
			return Community{}, err
		}
		if err := requireFields(present, where, "a", "b", "charge_per_kwh", "max_w"); err != nil {
			return Community{}, err
		}
		c.Links = append(c.Links, l)
	}
	if err := c.Validate(); err != nil {
		return Community{}, err
	}
	return c, nil
}

func readUnit(raw json.RawMessage, i int) (Unit, error) {
	obj, where, err := element(raw, "units", i)
	if err != nil {
		return Unit{}, err
	}
	var u Unit
	var rawAgents []json.RawMessage
	present, err := decodeFields(obj, where, map[string]any{"id": &u.ID, "agents": &rawAgents})
	if err != nil {
		return Unit{}, err
	}
	if err := requireFields(present, where, "id", "agents"); err != nil {
		return Unit{}, err
	}
	for j, rawAgent := range rawAgents {
		a, err := readAgent(rawAgent, j)
		if err != nil {
			return Unit{}, fmt.Errorf("%s: %w", where, err)
		}
		u.Agents = append(u.Agents, a)
	}
	return u, nil
}

// IsCommunityInput says whether a `fractals auction solve` input is a bilateral market (it has units)
// rather than a pooled problem (agents). It reads only the top level; the reader proper checks the rest.
func IsCommunityInput(data []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return false
	}
	_, ok := top["units"]
	return ok
}

// WriteCommunity writes c in the format ReadCommunity reads, every agent with exactly the fields its
// kind takes (zeros included), so a dumped interval reads back as the same market.
func WriteCommunity(w io.Writer, c Community) error {
	type unitOut struct {
		ID     string           `json:"id"`
		Agents []map[string]any `json:"agents"`
	}
	out := struct {
		Periods     int       `json:"periods"`
		PeriodHours float64   `json:"period_hours"`
		Units       []unitOut `json:"units"`
		Links       []Link    `json:"links"`
	}{Periods: c.Periods, PeriodHours: c.PeriodHours, Links: c.Links}
	if out.Links == nil {
		out.Links = []Link{}
	}
	for _, u := range c.Units {
		uo := unitOut{ID: u.ID, Agents: []map[string]any{}}
		for _, a := range u.Agents {
			uo.Agents = append(uo.Agents, agentFields(a))
		}
		out.Units = append(out.Units, uo)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// agentFields is a's id, kind and every field its kind takes.
func agentFields(a Agent) map[string]any {
	all := map[string]any{"demand_w": a.DemandW, "value_per_kwh": a.ValuePerKWh, "energy_wh": a.EnergyWh,
		"max_w": a.MaxW, "deadline": a.Deadline, "capacity_wh": a.CapacityWh, "initial_wh": a.InitialWh,
		"max_charge_w": a.MaxChargeW, "max_discharge_w": a.MaxDischargeW, "charge_efficiency": a.ChargeEfficiency,
		"discharge_efficiency": a.DischargeEfficiency, "cost_per_kwh": a.CostPerKWh, "forecast_w": a.ForecastW,
		"import_price": a.ImportPrice, "export_price": a.ExportPrice, "max_import_w": a.MaxImportW, "max_export_w": a.MaxExportW}
	m := map[string]any{"id": a.ID, "kind": a.Kind}
	for _, k := range fieldsOfKind[a.Kind] {
		m[k] = all[k]
	}
	return m
}
