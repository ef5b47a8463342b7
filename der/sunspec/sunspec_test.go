package sunspec

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestGeneratedTablesAreConsistent(t *testing.T) {
	want := []uint16{1, 101, 102, 103, 111, 112, 113, 120, 121, 122, 123, 124, 160, 201, 202, 203, 204,
		211, 212, 213, 214, 701, 702, 703, 704, 705, 706, 707, 708, 709, 710, 711, 712, 713, 802}
	if got := ModelIDs(); len(got) != len(want) {
		t.Fatalf("models %v, want %v", got, want)
	}
	for _, id := range want {
		m, ok := Model(id)
		if !ok {
			t.Fatalf("model %d missing", id)
		}
		if p, _ := m.Point("ID"); p == nil || p.Value != int64(id) {
			t.Errorf("model %d: ID point %+v", id, p)
		}
		var check func(g *GroupDef, outer map[string]PointType)
		check = func(g *GroupDef, outer map[string]PointType) {
			names := map[string]PointType{}
			for k, v := range outer {
				names[k] = v
			}
			off := 0
			for _, p := range g.Points {
				names[p.Name] = p.Type
				if p.Offset != off {
					t.Errorf("model %d %s.%s: offset %d, want %d", id, g.Name, p.Name, p.Offset, off)
				}
				if n := p.Type.fixedSize(); n != 0 && n != p.Size {
					t.Errorf("model %d %s: type %s size %d, want %d", id, p.Name, p.Type, p.Size, n)
				}
				off += p.Size
			}
			if off != g.Size {
				t.Errorf("model %d group %s: size %d, points cover %d", id, g.Name, g.Size, off)
			}
			for _, p := range g.Points {
				if p.SF != "" && names[p.SF] != Sunssf {
					t.Errorf("model %d %s: scale factor %s is %v", id, p.Name, p.SF, names[p.SF])
				}
			}
			for i := range g.Groups {
				check(&g.Groups[i], names)
			}
		}
		check(&m.Group, nil)
	}
	m103, _ := Model(103)
	if n, ok := m103.FixedLength(); !ok || n != 50 {
		t.Errorf("model 103 length %d %v, want 50", n, ok)
	}
	m1, _ := Model(1)
	if n, _ := m1.FixedLength(); n != 66 {
		t.Errorf("model 1 length %d, want 66", n)
	}
}

func TestDecodeSentinelsAreMissing(t *testing.T) {
	cases := []struct {
		typ  PointType
		size int
		regs []uint16
		ok   bool
		num  float64
		text string
	}{
		{Int16, 1, []uint16{0x8000}, false, 0, ""},
		{Int16, 1, []uint16{0xFFFE}, true, -2, ""},
		{Uint16, 1, []uint16{0xFFFF}, false, 0, ""},
		{Uint16, 1, []uint16{0xFFFE}, true, 65534, ""},
		{Enum16, 1, []uint16{0xFFFF}, false, 0, ""},
		{Bitfield16, 1, []uint16{0xFFFF}, false, 0, ""},
		{Acc16, 1, []uint16{0}, false, 0, ""},
		{Int32, 2, []uint16{0x8000, 0}, false, 0, ""},
		{Int32, 2, []uint16{0xFFFF, 0xFFFF}, true, -1, ""},
		{Uint32, 2, []uint16{0xFFFF, 0xFFFF}, false, 0, ""},
		{Uint32, 2, []uint16{1, 0}, true, 65536, ""},
		{Acc32, 2, []uint16{0, 0}, false, 0, ""},
		{Bitfield32, 2, []uint16{0xFFFF, 0xFFFF}, false, 0, ""},
		{Uint64, 4, []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, false, 0, ""},
		{Acc64, 4, []uint16{0, 0, 0, 0}, false, 0, ""},
		{Acc64, 4, []uint16{0, 0, 1, 2}, true, 65538, ""},
		{Int64, 4, []uint16{0x8000, 0, 0, 0}, false, 0, ""},
		{Float32, 2, []uint16{0x7FC0, 0}, false, 0, ""},
		{Float32, 2, []uint16{0x4049, 0x0FDB}, true, float64(float32(math.Pi)), ""},
		{Sunssf, 1, []uint16{0x8000}, false, 0, ""},
		{String, 4, []uint16{0, 0, 0, 0}, false, 0, ""},
		{String, 4, []uint16{0x4142, 0x4300, 0, 0}, true, 0, "ABC"},
		{IPAddr, 2, []uint16{0xC0A8, 0x0001}, true, 0, "192.168.0.1"},
		{IPAddr, 2, []uint16{0, 0}, false, 0, ""},
		{Count, 1, []uint16{0}, true, 0, ""},
	}
	for _, c := range cases {
		v := decodeRaw(&PointDef{Name: "P", Type: c.typ, Size: c.size}, c.regs)
		if v.Valid != c.ok {
			t.Errorf("%s %04x: valid %v, want %v", c.typ, c.regs, v.Valid, c.ok)
			continue
		}
		if !c.ok {
			continue
		}
		if c.typ.IsText() && v.Text != c.text {
			t.Errorf("%s %04x: text %q, want %q", c.typ, c.regs, v.Text, c.text)
		}
		if !c.typ.IsText() && v.Number != c.num {
			t.Errorf("%s %04x: number %v, want %v", c.typ, c.regs, v.Number, c.num)
		}
	}
}

func TestEncodeRoundTripsAndRefuses(t *testing.T) {
	w := &PointDef{Name: "W", Type: Int16, Size: 1, SF: "W_SF"}
	regs, err := EncodeNumber(w, -1234.5, -1)
	if err != nil || regs[0] != uint16(0xFFFF&-12345) {
		t.Fatalf("encode -1234.5 at sf -1: %04x %v", regs, err)
	}
	v := decodeRaw(w, regs)
	applyScale(&v, Value{Valid: true, Bits: uint64(0xFFFF)}) // sf = -1
	if v.Number != -1234.5 {
		t.Fatalf("round trip %v", v.Number)
	}
	if _, err := EncodeNumber(w, 4000, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := EncodeNumber(w, 40000, 0); err == nil {
		t.Fatal("40000 into int16 accepted")
	}
	if _, err := EncodeNumber(w, -32768, 0); err == nil {
		t.Fatal("the int16 not-implemented pattern accepted as a value")
	}
	if _, err := EncodeNumber(&PointDef{Name: "E", Type: Uint16, Size: 1}, math.NaN(), 0); err == nil {
		t.Fatal("NaN accepted")
	}
	u32 := &PointDef{Name: "X", Type: Uint32, Size: 2}
	regs, _ = EncodeNumber(u32, 70000, 0)
	if regs[0] != 1 || regs[1] != 70000-65536 {
		t.Fatalf("uint32 70000 -> %04x", regs)
	}
	s := &PointDef{Name: "Mn", Type: String, Size: 2}
	if _, err := EncodeString(s, "TOOLONG"); err == nil {
		t.Fatal("string longer than its point accepted")
	}
}

// hybridMap is the map of a hybrid inverter as the rig serves it, with a few values set.
func hybridMap(t testing.TB) *Map {
	t.Helper()
	m, err := NewMap(40000,
		ModelSpec{ID: 1}, ModelSpec{ID: 103}, ModelSpec{ID: 120}, ModelSpec{ID: 123}, ModelSpec{ID: 124},
		ModelSpec{ID: 160, Repeats: map[string]int{"module": 2}}, ModelSpec{ID: 802},
		ModelSpec{ID: 701}, ModelSpec{ID: 704}, ModelSpec{ID: 705, Repeats: map[string]int{"Crv": 2, "Pt": 4}})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.SetString(1, "Mn", "FRACTALS"))
	must(m.SetString(1, "Md", "MeshBox++ hybrid"))
	must(m.SetString(1, "SN", "MB-0001"))
	must(m.Set(103, "W_SF", 1))
	must(m.Set(103, "W", 69000))
	must(m.Set(103, "Hz_SF", -2))
	must(m.Set(103, "Hz", 50.01))
	must(m.Set(103, "St", 4))
	must(m.Set(123, "WMaxLimPct_SF", -1))
	must(m.Set(123, "WMaxLimPct", 100))
	must(m.Set(160, "DCW_SF", 0))
	must(m.Set(160, "module[1].DCW", 3100))
	must(m.Set(802, "SoC_SF", -1))
	must(m.Set(802, "SoC", 55.5))
	return m
}

func TestMapDiscoverReadDecode(t *testing.T) {
	m := hybridMap(t)
	ctx := context.Background()
	base, hs, err := Discover(ctx, m.Registers())
	if err != nil {
		t.Fatal(err)
	}
	if base != 40000 || len(hs) != 10 || hs[0].ID != 1 || hs[0].Addr != 40002 || hs[0].Length != 66 {
		t.Fatalf("base %d headers %+v", base, hs)
	}
	if hs[1].ID != 103 || hs[1].Addr != 40070 || hs[1].Length != 50 {
		t.Fatalf("model 103 header %+v, want at 40070 length 50", hs[1])
	}
	blocks := map[uint16]*Block{}
	for _, h := range hs {
		b, err := ReadModel(ctx, m.Registers(), h)
		if err != nil {
			t.Fatalf("model %d: %v", h.ID, err)
		}
		blocks[h.ID] = b
	}
	if v, ok := blocks[103].Number("W"); !ok || v != 69000 {
		t.Errorf("W = %v %v, want 69000", v, ok)
	}
	if v, ok := blocks[103].Number("Hz"); !ok || math.Abs(v-50.01) > 1e-9 {
		t.Errorf("Hz = %v %v", v, ok)
	}
	if _, ok := blocks[103].Number("DCW"); ok {
		t.Error("DCW is not implemented but decoded as a number")
	}
	if v, ok := blocks[160].Number("module[1].DCW"); !ok || v != 3100 {
		t.Errorf("module[1].DCW = %v %v (module scale factor comes from the top group)", v, ok)
	}
	if n, _ := blocks[705].Get("Crv[1].Pt[3].V"); n.Def == nil {
		t.Error("nested repeating group Crv[1].Pt[3] not laid out")
	}
	if mn, _ := blocks[1].Get("Mn"); mn.Text != "FRACTALS" {
		t.Errorf("Mn %q", mn.Text)
	}
	if v, ok := blocks[802].Number("SoC"); !ok || v != 55.5 {
		t.Errorf("SoC %v %v", v, ok)
	}
}

func TestWriteVerifiesReadBack(t *testing.T) {
	m := hybridMap(t)
	ctx := context.Background()
	_, hs, err := Discover(ctx, m.Registers())
	if err != nil {
		t.Fatal(err)
	}
	h := hs[3]
	if h.ID != 123 {
		t.Fatalf("header %+v", h)
	}
	var seen []string
	m.OnWrite(func(model uint16, paths []string) { seen = append(seen, paths...) })
	err = Write(ctx, m.Registers(), h, Set{Path: "WMaxLimPct", Value: 42.5}, Set{Path: "WMaxLimPct_RvrtTms", Value: 60},
		Set{Path: "WMaxLim_Ena", Value: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Get(123, "WMaxLimPct"); v.Number != 42.5 {
		t.Errorf("WMaxLimPct %v", v.Number)
	}
	if len(seen) != 3 || seen[0] != "WMaxLimPct" || seen[2] != "WMaxLim_Ena" {
		t.Errorf("writes seen %v", seen)
	}
	if err := Write(ctx, m.Registers(), h, Set{Path: "WMaxLimPct_SF", Value: 0}); err == nil {
		t.Error("write of a read-only scale factor accepted")
	}
	// A device that acknowledges writes but ignores them fails read-back verification.
	if err := Write(ctx, ignoringWrites{m.Registers()}, h, Set{Path: "WMaxLimPct", Value: 10}); !errors.Is(err, ErrVerify) {
		t.Errorf("ignored write: %v, want ErrVerify", err)
	}
}

type ignoringWrites struct{ Registers }

func (ignoringWrites) WriteMultipleRegisters(context.Context, uint16, []uint16) error { return nil }

func TestDecodeRefusesWrongLength(t *testing.T) {
	def, _ := Model(103)
	regs := make([]uint16, 22)
	regs[0], regs[1] = 103, 20 // ends before WH, a mandatory point
	if _, err := Decode(def, 40070, regs); err == nil || !strings.Contains(err.Error(), "mandatory points [WH") {
		t.Fatalf("model without its mandatory points decoded (err %v)", err)
	}
	if _, err := Decode(def, 40070, []uint16{103}); err == nil {
		t.Fatal("one register decoded")
	}
}
