package regmap

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/fractals-energy/fractals/der"
)

func bit(n int) *int { return &n }

func TestDecodeTypes(t *testing.T) {
	f := math.Float32bits(-1234.5)
	for _, c := range []struct {
		name  string
		r     Register
		regs  []uint16
		want  float64
		text  string
		valid bool
	}{
		{"u16", Register{Type: U16}, []uint16{65535}, 65535, "", true},
		{"s16", Register{Type: S16}, []uint16{0xFFFE}, -2, "", true},
		{"u32 high first", Register{Type: U32}, []uint16{0x0001, 0x0002}, 65538, "", true},
		{"u32 low first", Register{Type: U32, WordOrder: LowFirst}, []uint16{0x0002, 0x0001}, 65538, "", true},
		{"s32 high first", Register{Type: S32}, []uint16{0xFFFF, 0xFF38}, -200, "", true},
		{"s32 low first", Register{Type: S32, WordOrder: LowFirst}, []uint16{0xFF38, 0xFFFF}, -200, "", true},
		{"float32 high first", Register{Type: F32}, []uint16{uint16(f >> 16), uint16(f)}, -1234.5, "", true},
		{"float32 low first", Register{Type: F32, WordOrder: LowFirst}, []uint16{uint16(f), uint16(f >> 16)}, -1234.5, "", true},
		{"float32 NaN is not available", Register{Type: F32}, []uint16{0x7FC0, 0}, 0, "", false},
		{"scale and offset", Register{Type: U16, Scale: 0.1, Offset: -40}, []uint16{655}, 25.5, "", true},
		{"negative scale flips the sign", Register{Type: S32, Scale: -1}, []uint16{0, 800}, -800, "", true},
		{"bit field", Register{Type: U16, Bit: bit(4), Bits: 3}, []uint16{0b1101_0000}, 5, "", true},
		{"single bit", Register{Type: U16, Bit: bit(15)}, []uint16{0x8000}, 1, "", true},
		{"enum", Register{Type: U16, Enum: map[int64]string{1: "standby", 2: "on-grid"}}, []uint16{2}, 2, "on-grid", true},
		{"enum without label", Register{Type: U16, Enum: map[int64]string{1: "standby"}}, []uint16{9}, 9, "", false},
		{"invalid marker", Register{Type: S16, Invalid: []int64{0x7FFF}}, []uint16{0x7FFF}, 0, "", false},
		{"string", Register{Type: Str, Words: 4}, []uint16{'S'<<8 | 'U', 'N'<<8 | '2', '0' << 8, 0}, 0, "SUN20", true},
	} {
		c.r.Point = "x"
		v, err := Decode(&c.r, c.regs)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if v.Valid != c.valid || (c.valid && math.Abs(v.Number-c.want) > 1e-9) || v.Text != c.text {
			t.Errorf("%s: %+v, want %v %q valid=%v", c.name, v, c.want, c.text, c.valid)
		}
	}
}

func TestDecodeRefusesImplausibleAndShort(t *testing.T) {
	r := Register{Point: "meter.power", Address: 37113, Type: S32, Unit: "W"}
	_, err := Decode(&r, []uint16{0x7FFF, 0xFFFF}) // 2.1 GW
	if !errors.Is(err, der.ErrImplausible) || !strings.Contains(err.Error(), "register 37113: meter.power 2.147483647e+09 W outside") {
		t.Errorf("2.1 GW: %v", err)
	}
	hz := Register{Point: "meter.frequency", Address: 5, Type: U16, Scale: 0.01, Unit: "Hz"}
	if _, err := Decode(&hz, []uint16{50000}); !errors.Is(err, der.ErrImplausible) {
		t.Errorf("500 Hz: %v", err)
	}
	if _, err := Decode(&r, []uint16{1}); err == nil || !strings.Contains(err.Error(), "meter.power at 37113: 1 registers, want 2") {
		t.Errorf("short: %v", err)
	}
}

func TestEncodeLimitsAndRoundTrip(t *testing.T) {
	for _, s := range []Setpoint{
		{Register: Register{Point: "battery.setpoint", Type: S32, Scale: 1, Unit: "W"}, Min: -5000, Max: 5000},
		{Register: Register{Point: "battery.setpoint", Type: S32, WordOrder: LowFirst, Unit: "W"}, Min: -5000, Max: 5000},
		{Register: Register{Point: "pv.limit_pct", Type: U16, Scale: 0.1, Unit: "%"}, Min: 0, Max: 100},
		{Register: Register{Point: "pv.limit", Type: F32, Unit: "W"}, Min: 0, Max: 8000},
	} {
		for _, v := range []float64{s.Min, s.Max, (s.Min + s.Max) / 3} {
			regs, _, err := Encode(&s, v)
			if err != nil {
				t.Fatalf("%s %g: %v", s.Point, v, err)
			}
			got, err := Decode(&s.Register, regs)
			if err != nil || math.Abs(got.Number-v) > 0.05 {
				t.Errorf("%s %s: wrote %g, read %+v %v", s.Point, s.Type, v, got, err)
			}
		}
		for _, bad := range []float64{s.Min - 1, s.Max + 1, math.NaN(), math.Inf(1)} {
			if _, _, err := Encode(&s, bad); err == nil || !strings.Contains(err.Error(), "outside") {
				t.Errorf("%s %g accepted: %v", s.Point, bad, err)
			}
		}
	}
	dir := Setpoint{Register: Register{Point: "battery.setpoint", Address: 13051, Type: U16, Unit: "W"}, Min: -5000, Max: 5000,
		Direction: &Direction{Address: 13050, Positive: 0xAA, Negative: 0xBB, Zero: 0xCC}}
	for v, want := range map[float64][2]uint16{2000: {2000, 0xAA}, -1500: {1500, 0xBB}, 0: {0, 0xCC}} {
		regs, code, err := Encode(&dir, v)
		if err != nil || regs[0] != want[0] || code != want[1] {
			t.Errorf("direction %g: %v %#x %v", v, regs, code, err)
		}
	}
}

func TestValidateNamesPointAndField(t *testing.T) {
	m := Map{Points: []Register{
		{Point: "pv.power", Type: "u64"},
		{Point: "soc", Type: U16, Table: "coil"},
		{Point: "s", Type: Str},
		{Point: "b", Type: U16, Bit: bit(14), Bits: 4},
		{Point: "u", Type: U16, Unit: "furlong"},
		{Point: "pv.power", Type: U16},
	}, Setpoints: []Setpoint{
		{Register: Register{Point: "x", Type: U16, Table: Input}, Min: 0, Max: 1},
		{Register: Register{Point: "y", Type: U16}, Min: 5, Max: 5},
		{Register: Register{Point: "z", Address: 7, Type: U16}, Min: 0, Max: 1, Direction: &Direction{Address: 7}},
	}}
	err := m.Validate()
	for _, want := range []string{`points[0] pv.power: type: "u64"`, `points[1] soc: table: "coil"`, "points[2] s: words: 0 outside",
		"points[3] b: bit 14, bits 4", `points[4] u: unit: "furlong"`, "points[5] pv.power: point defined twice",
		"setpoints[0] x: table", "setpoints[1] y: min 5, max 5", "setpoints[2] z: direction"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

// FuzzDecode decodes arbitrary registers with an arbitrary register description: it never panics,
// and what it returns as valid is finite and within the unit's band.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint8(0), int8(-1), uint8(0), float64(1), float64(0), []byte{0xFF, 0xFF})
	f.Add(uint8(4), uint8(1), uint8(1), int8(-1), uint8(0), float64(-1), float64(0), []byte{0x7F, 0xC0, 0, 0})
	f.Add(uint8(5), uint8(0), uint8(3), int8(-1), uint8(0), float64(1), float64(0), []byte("SUN2000-5KTL"))
	f.Add(uint8(1), uint8(0), uint8(2), int8(3), uint8(5), float64(0.01), float64(-40), []byte{0x12, 0x34})
	types := []string{U16, S16, U32, S32, F32, Str}
	units := []string{"", "W", "V", "Hz", "%", "Wh"}
	f.Fuzz(func(t *testing.T, typ, order, unit uint8, bitAt int8, bits uint8, scale, offset float64, data []byte) {
		r := Register{Point: "p", Type: types[int(typ)%len(types)], Unit: units[int(unit)%len(units)], Scale: scale, Offset: offset}
		if order%2 == 1 {
			r.WordOrder = LowFirst
		}
		if r.Type == Str {
			r.Words = 1 + len(data)/2
		}
		if bitAt >= 0 {
			b := int(bitAt)
			r.Bit, r.Bits = &b, int(bits)
		}
		if r.validate() != nil {
			return // Map.Validate refuses it before any decode
		}
		regs := make([]uint16, (len(data)+1)/2)
		for i, b := range data {
			regs[i/2] |= uint16(b) << (8 * (1 - i%2))
		}
		v, err := Decode(&r, regs)
		if err != nil || !v.Valid || r.Type == Str {
			return
		}
		band := unitBands[r.Unit]
		if math.IsNaN(v.Number) || math.IsInf(v.Number, 0) || v.Number < band[0] || v.Number > band[1] {
			t.Fatalf("%+v from %v: %v outside %v", r, regs, v.Number, band)
		}
	})
}
