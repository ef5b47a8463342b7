package auction

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
)

// maxInput bounds what the readers accept (a million bids are about 60 MB of JSON).
const maxInput = 256 << 20

// The readers decode in two stages so that every error names where it is: the whole input is first
// checked as one JSON value (syntax, no trailing data), then each object is read key by key and each
// element of the bids and agents arrays on its own. A type error, an unknown key or a missing field
// then reads `bids[3] (id "b7"): price: want a number, got a string`, in JSON's terms, not Go's.

// ClearInput is the JSON form of one interval to clear.
type ClearInput struct {
	PriceCap *float64   `json:"price_cap"`
	Bids     []bidInput `json:"bids"`
}

type bidInput struct {
	ID       string   `json:"id"`
	Side     string   `json:"side"`
	Price    *float64 `json:"price"`
	Quantity *float64 `json:"quantity"`
}

// ClearOutput is the JSON form of a clearing.
type ClearOutput struct {
	ClearingPrice    float64      `json:"clearing_price"`
	ClearingQuantity float64      `json:"clearing_quantity"`
	ClearingType     ClearingType `json:"clearing_type"`
	Welfare          float64      `json:"welfare"`
	Allocations      []Allocation `json:"allocations"`
}

// Allocation is what one bid trades.
type Allocation struct {
	ID       string  `json:"id"`
	Quantity float64 `json:"quantity"`
}

// ReadClear reads an interval: {"price_cap": 9999, "bids": [{"id","side","price","quantity"}, ...]}.
// Errors name the field and the bid.
func ReadClear(r io.Reader) (Market, []Bid, error) {
	top, err := readObject(r)
	if err != nil {
		return Market{}, nil, err
	}
	var priceCap float64
	var rawBids []json.RawMessage
	present, err := decodeFields(top, "", map[string]any{"price_cap": &priceCap, "bids": &rawBids})
	if err != nil {
		return Market{}, nil, err
	}
	m := Market{PriceCap: DefaultPriceCap}
	if present["price_cap"] {
		if !(priceCap > 0 && priceCap <= maxPrice) {
			return Market{}, nil, fmt.Errorf("price_cap %v, want (0, %g]", priceCap, float64(maxPrice))
		}
		m.PriceCap = priceCap
	}
	if !present["bids"] {
		return Market{}, nil, errors.New("bids missing, want an array of bids")
	}
	bids := make([]Bid, len(rawBids))
	firstUse := make(map[string]int, len(rawBids))
	for i, raw := range rawBids {
		b, err := readBid(raw, i, m.PriceCap)
		if err != nil {
			return Market{}, nil, err
		}
		// Allocations are reported by id: two bids of one id would get two answers nobody can tell apart.
		if first, ok := firstUse[b.ID]; ok {
			return Market{}, nil, fmt.Errorf("bids[%d] (id %q): id already used by bids[%d], want every bid id once", i, b.ID, first)
		}
		firstUse[b.ID] = i
		bids[i] = b
	}
	return m, bids, nil
}

func readBid(raw json.RawMessage, i int, priceCap float64) (Bid, error) {
	obj, where, err := element(raw, "bids", i)
	if err != nil {
		return Bid{}, err
	}
	var in bidInput
	var price, quantity float64
	present, err := decodeFields(obj, where, map[string]any{"id": &in.ID, "side": &in.Side, "price": &price, "quantity": &quantity})
	if err != nil {
		return Bid{}, err
	}
	if err := requireFields(present, where, "side", "price", "quantity"); err != nil {
		return Bid{}, err
	}
	side, err := ParseSide(in.Side)
	if err != nil {
		return Bid{}, fmt.Errorf("%s: %w", where, err)
	}
	if math.Abs(price) > priceCap {
		return Bid{}, fmt.Errorf("%s: price %v beyond the price cap %v", where, price, priceCap)
	}
	if math.Abs(quantity) > maxPower {
		return Bid{}, fmt.Errorf("%s: quantity %v, want within ±%g", where, quantity, float64(maxPower))
	}
	return Bid{ID: in.ID, Side: side, Price: price, Quantity: quantity}, nil
}

// Output pairs a result with the bids' IDs. No number in it is a negative zero, which JSON would print
// as -0.
func (r Result) Output(bids []Bid) ClearOutput {
	out := ClearOutput{ClearingPrice: positiveZero(r.Price), ClearingQuantity: positiveZero(r.Quantity), ClearingType: r.Type,
		Welfare: positiveZero(r.Welfare), Allocations: make([]Allocation, len(bids))}
	for i, b := range bids {
		out.Allocations[i] = Allocation{ID: b.ID, Quantity: positiveZero(r.Allocations[i])}
	}
	return out
}

// positiveZero turns -0 into 0 and leaves every other number alone.
func positiveZero(x float64) float64 {
	if x == 0 {
		return 0
	}
	return x
}

// MinPeriodHours is the shortest period: one minute.
const MinPeriodHours = 1.0 / 60

// fieldsOfKind lists the fields each kind of agent takes besides id and kind; all are required except
// those in optionalFields.
var fieldsOfKind = map[Kind][]string{
	KindLoad:         {"demand_w", "value_per_kwh"},
	KindFlexibleLoad: {"energy_wh", "max_w", "deadline", "value_per_kwh"},
	KindBattery: {"capacity_wh", "initial_wh", "max_charge_w", "max_discharge_w", "charge_efficiency",
		"discharge_efficiency", "cost_per_kwh"},
	KindPV:   {"forecast_w", "cost_per_kwh"},
	KindGrid: {"import_price", "export_price", "max_import_w", "max_export_w"},
}

// optionalFields may be left out: a battery starts empty unless initial_wh says otherwise.
var optionalFields = map[string]bool{"initial_wh": true}

// ReadProblem reads a multi-period market (see Problem and Agent for the fields), fills the defaults
// (24 periods of one hour when periods or period_hours are absent) and validates it. Every field an
// agent's kind takes is required (except a battery's initial_wh, 0 when absent), and a field its kind
// does not take is refused.
func ReadProblem(r io.Reader) (Problem, error) {
	top, err := readObject(r)
	if err != nil {
		return Problem{}, err
	}
	p := Problem{Periods: DefaultPeriods, PeriodHours: 1}
	var rawAgents []json.RawMessage
	present, err := decodeFields(top, "", map[string]any{"periods": &p.Periods, "period_hours": &p.PeriodHours, "agents": &rawAgents})
	if err != nil {
		return Problem{}, err
	}
	if !present["agents"] {
		return Problem{}, errors.New("agents missing, want an array of agents")
	}
	p.Agents = make([]Agent, len(rawAgents))
	for i, raw := range rawAgents {
		a, err := readAgent(raw, i)
		if err != nil {
			return Problem{}, err
		}
		p.Agents[i] = a
	}
	if err := p.Validate(); err != nil {
		return Problem{}, err
	}
	return p, nil
}

func readAgent(raw json.RawMessage, i int) (Agent, error) {
	obj, where, err := element(raw, "agents", i)
	if err != nil {
		return Agent{}, err
	}
	var a Agent
	fields := map[string]any{"id": &a.ID, "kind": &a.Kind,
		"demand_w": &a.DemandW, "value_per_kwh": &a.ValuePerKWh,
		"energy_wh": &a.EnergyWh, "max_w": &a.MaxW, "deadline": &a.Deadline,
		"capacity_wh": &a.CapacityWh, "initial_wh": &a.InitialWh, "max_charge_w": &a.MaxChargeW,
		"max_discharge_w": &a.MaxDischargeW, "charge_efficiency": &a.ChargeEfficiency,
		"discharge_efficiency": &a.DischargeEfficiency, "cost_per_kwh": &a.CostPerKWh,
		"forecast_w":   &a.ForecastW,
		"import_price": &a.ImportPrice, "export_price": &a.ExportPrice, "max_import_w": &a.MaxImportW, "max_export_w": &a.MaxExportW,
	}
	present, err := decodeFields(obj, where, fields)
	if err != nil {
		return Agent{}, err
	}
	if err := requireFields(present, where, "id", "kind"); err != nil {
		return Agent{}, err
	}
	takes, ok := fieldsOfKind[a.Kind]
	if !ok {
		return Agent{}, fmt.Errorf("%s: kind %q, want load, flexible_load, battery, pv or grid", where, a.Kind)
	}
	for _, k := range sortedKeys(present) {
		if k != "id" && k != "kind" && !slices.Contains(takes, k) {
			return Agent{}, fmt.Errorf("%s: field %s does not apply to kind %s (it takes %s)", where, k, a.Kind, strings.Join(takes, ", "))
		}
	}
	for _, k := range takes {
		if !present[k] && !optionalFields[k] {
			return Agent{}, fmt.Errorf("%s: %s missing (kind %s takes %s)", where, k, a.Kind, strings.Join(takes, ", "))
		}
	}
	return a, nil
}

// readObject reads exactly one JSON object, with nothing after it, as its raw members.
func readObject(r io.Reader) (map[string]json.RawMessage, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	if len(data) > maxInput {
		return nil, fmt.Errorf("input larger than %d bytes", maxInput)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("JSON syntax at byte %d: %v", syn.Offset, err)
		}
		if errors.Is(err, io.EOF) {
			return nil, errors.New("input empty, want a JSON object")
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("JSON syntax at byte %d: input ends inside a value", len(data))
		}
		return nil, fmt.Errorf("JSON: %v", err)
	}
	// Anything but the end of the input after the value is refused, including a stray ] or }, which
	// dec.More would let through.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("JSON: trailing data after the input object at byte %d", dec.InputOffset())
	}
	obj, err := asObject(raw)
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	if err := checkDuplicateKeys(raw); err != nil {
		return nil, err
	}
	return obj, nil
}

func asObject(raw json.RawMessage) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("want an object, got %s", jsonKind(raw))
	}
	return obj, nil
}

// element reads element i of the named array as an object and says where it is: the index and, when it
// has a string id, the id.
func element(raw json.RawMessage, array string, i int) (map[string]json.RawMessage, string, error) {
	where := fmt.Sprintf("%s[%d]", array, i)
	obj, err := asObject(raw)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", where, err)
	}
	var id string
	if rawID, ok := obj["id"]; ok && json.Unmarshal(rawID, &id) == nil {
		where = fmt.Sprintf("%s (id %q)", where, id)
	}
	return obj, where, nil
}

// decodeFields decodes each member of obj into the target its key names and says which keys were
// present. An unknown key, a null or a value of the wrong type is an error naming the key.
func decodeFields(obj map[string]json.RawMessage, where string, targets map[string]any) (map[string]bool, error) {
	prefix := ""
	if where != "" {
		prefix = where + ": "
	}
	present := make(map[string]bool, len(obj))
	for _, k := range sortedKeys(obj) {
		target, ok := targets[k]
		if !ok {
			return nil, fmt.Errorf("%sunknown field %q (accepted: %s)", prefix, k, strings.Join(sortedKeys(targets), ", "))
		}
		if err := decodeValue(obj[k], k, target); err != nil {
			return nil, fmt.Errorf("%s%w", prefix, err)
		}
		present[k] = true
	}
	return present, nil
}

// decodeValue decodes one value into target; an array is decoded element by element so that an error
// names the index.
func decodeValue(raw json.RawMessage, name string, target any) error {
	v := reflect.ValueOf(target).Elem()
	if v.Kind() == reflect.Slice && v.Type() != reflect.TypeFor[json.RawMessage]() {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil || items == nil {
			return fmt.Errorf("%s: want an array, got %s", name, jsonKind(raw))
		}
		s := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, item := range items {
			if err := decodeValue(item, fmt.Sprintf("%s[%d]", name, i), s.Index(i).Addr().Interface()); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return fmt.Errorf("%s: want %s, got null", name, wantOf(v.Type()))
	}
	if err := json.Unmarshal(raw, target); err != nil {
		got := jsonKind(raw)
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && strings.HasPrefix(typ.Value, "number") && wantOf(v.Type()) != "a string" {
			got = strings.TrimSpace(string(raw)) // a number out of range or not an integer
		}
		return fmt.Errorf("%s: want %s, got %s", name, wantOf(v.Type()), got)
	}
	return nil
}

// wantOf names a Go type in JSON's terms.
func wantOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// jsonKind names what a raw JSON value is.
func jsonKind(raw json.RawMessage) string {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 {
		return "nothing"
	}
	switch s[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func requireFields(present map[string]bool, where string, names ...string) error {
	for _, n := range names {
		if !present[n] {
			return fmt.Errorf("%s: %s missing", where, n)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
