package sunspec

import (
	"context"
	"strings"
	"testing"
)

// rawRegisters is a register map given register by register, for maps the Map type would never
// lay out (a device's own idea of a model's length).
type rawRegisters struct {
	base uint16
	regs []uint16
}

func (r rawRegisters) ReadHoldingRegisters(_ context.Context, addr, n uint16) ([]uint16, error) {
	off := int(addr) - int(r.base)
	if off < 0 || off+int(n) > len(r.regs) {
		return nil, ErrIllegalAddress
	}
	return append([]uint16(nil), r.regs[off:off+int(n)]...), nil
}

func (r rawRegisters) WriteMultipleRegisters(_ context.Context, addr uint16, vals []uint16) error {
	off := int(addr) - int(r.base)
	if off < 0 || off+len(vals) > len(r.regs) {
		return ErrIllegalAddress
	}
	copy(r.regs[off:], vals)
	return nil
}

// shortenModel rewrites the registers of a map so that the model whose ID register is at offset
// at (from the base) has length l, dropping its tail.
func shortenModel(regs []uint16, at int, l int) []uint16 {
	old := int(regs[at+1])
	out := append([]uint16(nil), regs[:at+2+l]...)
	out[at+1] = uint16(l)
	return append(out, regs[at+2+old:]...)
}

// solarEdgeLike is a map whose model 1 has length 65, as SolarEdge inverters send it (no trailing
// pad), followed by model 103 and the end marker.
func solarEdgeLike(t *testing.T) rawRegisters {
	t.Helper()
	m, err := NewMap(40000, ModelSpec{ID: 1}, ModelSpec{ID: 103})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetString(1, "SN", "7E123456"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		p string
		v float64
	}{{"W_SF", 0}, {"W", 4200}, {"Hz_SF", -2}, {"Hz", 50.02}} {
		if err := m.Set(103, s.p, s.v); err != nil {
			t.Fatal(err)
		}
	}
	regs, err := m.ReadRegisters(40000, uint16(m.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return rawRegisters{base: 40000, regs: shortenModel(regs, 2, 65)}
}

func TestDiscoverAcceptsModel1WithoutTrailingPad(t *testing.T) {
	r := solarEdgeLike(t)
	ctx := context.Background()
	base, hs, err := Discover(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if base != 40000 || len(hs) != 2 || hs[0] != (Header{ID: 1, Addr: 40002, Length: 65}) ||
		hs[1] != (Header{ID: 103, Addr: 40069, Length: 50}) {
		t.Fatalf("base %d headers %+v, want 1 (L 65) at 40002 and 103 at 40069", base, hs)
	}
	b1, err := ReadModel(ctx, r, hs[0])
	if err != nil {
		t.Fatalf("model 1 with length 65: %v", err)
	}
	if sn, _ := b1.Get("SN"); sn.Text != "7E123456" {
		t.Errorf("SN %q", sn.Text)
	}
	if pad, ok := b1.Get("Pad"); !ok || pad.Valid {
		t.Errorf("the pad the device left out: %+v %v, want present and missing", pad, ok)
	}
	b103, err := ReadModel(ctx, r, hs[1])
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := b103.Number("W"); !ok || w != 4200 {
		t.Errorf("W %v %v", w, ok)
	}
	res, err := Scan(ctx, r)
	if err != nil || len(res.Errors) != 0 || len(res.Models) != 2 || res.Models[1].Points["Hz"].Value != 50.02 {
		t.Fatalf("scan %+v, %v", res, err)
	}
	// A device's shorter model cannot be written beyond its end.
	if err := Write(ctx, r, Header{ID: 103, Addr: 40069, Length: 48}, Set{Path: "EvtVnd4", Value: 1}); err == nil {
		t.Error("write accepted")
	}
}

func TestDiscoverSkipsAModelOfWrongLength(t *testing.T) {
	m, err := NewMap(40000, ModelSpec{ID: 1}, ModelSpec{ID: 103}, ModelSpec{ID: 120})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Set(120, "WRtg_SF", 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(120, "WRtg", 5000); err != nil {
		t.Fatal(err)
	}
	regs, _ := m.ReadRegisters(40000, uint16(m.Len()))
	r := rawRegisters{base: 40000, regs: shortenModel(regs, 2+68, 20)} // 103 ends before WH, a mandatory point
	ctx := context.Background()
	_, hs, err := Discover(ctx, r)
	if err != nil || len(hs) != 3 || hs[2].ID != 120 || hs[2].Addr != 40092 {
		t.Fatalf("headers %+v, %v: the walk must step over the short model by its L", hs, err)
	}
	res, err := Scan(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || res.Errors[0].Model != 103 || !strings.Contains(res.Errors[0].Error, "mandatory") {
		t.Errorf("errors %+v, want one for model 103", res.Errors)
	}
	if len(res.Models) != 3 || res.Models[2].Points["WRtg"].Value != 5000.0 {
		t.Errorf("model 120 after the short one: %+v", res.Models)
	}
}
