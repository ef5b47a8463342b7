package auction

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// maxInput bounds what the readers accept (a million bids are about 60 MB of JSON).
const maxInput = 256 << 20

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
	var in ClearInput
	if err := decodeStrict(r, &in); err != nil {
		return Market{}, nil, err
	}
	m := Market{PriceCap: DefaultPriceCap}
	if in.PriceCap != nil {
		if !(*in.PriceCap > 0 && *in.PriceCap <= maxPrice) {
			return Market{}, nil, fmt.Errorf("price_cap %v, want (0, %g]", *in.PriceCap, float64(maxPrice))
		}
		m.PriceCap = *in.PriceCap
	}
	if in.Bids == nil {
		return Market{}, nil, errors.New("bids missing")
	}
	bids := make([]Bid, len(in.Bids))
	for i, b := range in.Bids {
		where := fmt.Sprintf("bids[%d] (%q)", i, b.ID)
		side, err := ParseSide(b.Side)
		if err != nil {
			return Market{}, nil, fmt.Errorf("%s: %w", where, err)
		}
		if b.Price == nil {
			return Market{}, nil, fmt.Errorf("%s: price missing", where)
		}
		if b.Quantity == nil {
			return Market{}, nil, fmt.Errorf("%s: quantity missing", where)
		}
		if math.Abs(*b.Price) > m.PriceCap {
			return Market{}, nil, fmt.Errorf("%s: price %v beyond the price cap %v", where, *b.Price, m.PriceCap)
		}
		if math.Abs(*b.Quantity) > maxPower {
			return Market{}, nil, fmt.Errorf("%s: quantity %v, want within ±%g", where, *b.Quantity, float64(maxPower))
		}
		bids[i] = Bid{ID: b.ID, Side: side, Price: *b.Price, Quantity: *b.Quantity}
	}
	return m, bids, nil
}

// Output pairs a result with the bids' IDs.
func (r Result) Output(bids []Bid) ClearOutput {
	out := ClearOutput{ClearingPrice: r.Price, ClearingQuantity: r.Quantity, ClearingType: r.Type, Welfare: r.Welfare,
		Allocations: make([]Allocation, len(bids))}
	for i, b := range bids {
		out.Allocations[i] = Allocation{ID: b.ID, Quantity: r.Allocations[i]}
	}
	return out
}

// ReadProblem reads a multi-period market (see Problem and Agent for the fields), fills the defaults
// and validates it.
func ReadProblem(r io.Reader) (Problem, error) {
	var p Problem
	if err := decodeStrict(r, &p); err != nil {
		return Problem{}, err
	}
	p = p.withDefaults()
	if err := p.Validate(); err != nil {
		return Problem{}, err
	}
	return p, nil
}

// decodeStrict decodes exactly one JSON value with no unknown fields and no trailing data.
func decodeStrict(r io.Reader, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	if len(data) > maxInput {
		return fmt.Errorf("input larger than %d bytes", maxInput)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("JSON syntax at byte %d: %v", syn.Offset, err)
		case errors.As(err, &typ):
			return fmt.Errorf("field %s: %s where %s expected (byte %d)", typ.Field, typ.Value, typ.Type, typ.Offset)
		}
		return fmt.Errorf("JSON: %w", err)
	}
	if dec.More() {
		return errors.New("JSON: trailing data after the input object")
	}
	return nil
}
