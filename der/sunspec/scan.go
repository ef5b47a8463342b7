package sunspec

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// ScanResult is what a scan of one device found: every model and every decoded point.
type ScanResult struct {
	Base   uint16      `json:"base"`
	Models []ScanModel `json:"models"`
	Errors []ScanError `json:"errors,omitempty"`
}

// ScanModel is one model of a scan.
type ScanModel struct {
	ID      uint16               `json:"id"`
	Name    string               `json:"name,omitempty"`
	Address uint16               `json:"address"`
	Length  uint16               `json:"length"`
	Points  map[string]ScanPoint `json:"points"`
}

// ScanPoint is one point: Value is a number (scale factor applied; enumerations and bitfields as
// their raw number), a string for text points, or null when the device does not implement it.
type ScanPoint struct {
	Value any    `json:"value"`
	Units string `json:"units,omitempty"`
}

// ScanError records a model that could not be read or decoded; the scan goes on without it.
type ScanError struct {
	Model   uint16 `json:"model"`
	Address uint16 `json:"address"`
	Error   string `json:"error"`
}

// Scan discovers the device's models and reads and decodes every one of them.
func Scan(ctx context.Context, r Registers) (*ScanResult, error) {
	base, hs, err := Discover(ctx, r)
	if err != nil && len(hs) == 0 {
		return nil, err
	}
	res := &ScanResult{Base: base, Models: []ScanModel{}}
	if err != nil {
		res.Errors = append(res.Errors, ScanError{Error: err.Error()})
	}
	for _, h := range hs {
		sm := ScanModel{ID: h.ID, Address: h.Addr, Length: h.Length, Points: map[string]ScanPoint{}}
		def, known := Model(h.ID)
		if !known {
			res.Errors = append(res.Errors, ScanError{h.ID, h.Addr, "model not among the known models"})
			res.Models = append(res.Models, sm)
			continue
		}
		sm.Name = def.Name
		b, err := ReadModel(ctx, r, h)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Errors = append(res.Errors, ScanError{h.ID, h.Addr, err.Error()})
			res.Models = append(res.Models, sm)
			continue
		}
		for _, v := range b.Points {
			if v.Def.Type == Pad {
				continue
			}
			sm.Points[v.Path] = scanPoint(v)
		}
		res.Models = append(res.Models, sm)
	}
	return res, nil
}

func scanPoint(v Value) ScanPoint {
	p := ScanPoint{Units: v.Def.Units}
	switch {
	case !v.Valid:
		p.Value = nil
	case v.Def.Type.IsText():
		p.Value = v.Text
	default:
		p.Value = v.Number
	}
	return p
}

// WriteJSON writes the result as one JSON document.
func (r *ScanResult) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	return enc.Encode(r)
}

// WriteText writes the result as a readable listing, points sorted by name.
func (r *ScanResult) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "SunS at %d\n", r.Base)
	for _, m := range r.Models {
		fmt.Fprintf(w, "model %d %s at %d, length %d\n", m.ID, m.Name, m.Address, m.Length)
		names := make([]string, 0, len(m.Points))
		for n := range m.Points {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p := m.Points[n]
			val := "-"
			if p.Value != nil {
				val = fmt.Sprint(p.Value)
			}
			fmt.Fprintf(w, "  %-24s %s %s\n", n, val, p.Units)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: model %d at %d: %s\n", e.Model, e.Address, e.Error)
	}
	return nil
}
