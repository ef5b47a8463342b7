package regmap

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/fractals-energy/fractals/der"
)

// Value is one decoded point.
type Value struct {
	Number float64 // engineering value (raw × scale + offset); 0 for a string
	Text   string  // a string point, or the enum label
	Valid  bool    // false for a raw value the map lists as invalid, or an unlabelled enum value
}

// unitBands are the plausible ranges of each physical unit a register may carry.
var unitBands = map[string][2]float64{
	"":   {-math.MaxFloat64, math.MaxFloat64},
	"W":  {-der.MaxPlausibleWatts, der.MaxPlausibleWatts},
	"V":  {0, der.MaxPlausibleVolts},
	"Hz": {0, der.MaxPlausibleHertz},
	"%":  {0, 100},
	"Wh": {0, der.MaxPlausibleWattHours},
	"A":  {-10000, 10000},
	"C":  {-60, 150},
	"s":  {0, 1 << 34},
}

func unitNames() string {
	var out []string
	for u := range unitBands {
		if u != "" {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ") + " or none"
}

// raw assembles the integer or float bits of r from its registers.
func (r *Register) raw(regs []uint16) uint32 {
	if r.Size() == 1 {
		return uint32(regs[0])
	}
	hi, lo := regs[0], regs[1]
	if r.WordOrder == LowFirst {
		hi, lo = lo, hi
	}
	return uint32(hi)<<16 | uint32(lo)
}

// Decode decodes r from exactly r.Size() registers. An error says what is wrong and where; a value
// outside the plausible band of r.Unit is an error wrapping der.ErrImplausible.
func Decode(r *Register, regs []uint16) (Value, error) {
	if len(regs) != r.Size() {
		return Value{}, fmt.Errorf("regmap: %s at %d: %d registers, want %d", r.Point, r.Address, len(regs), r.Size())
	}
	if r.Type == Str {
		b := make([]byte, 0, 2*len(regs))
		for _, w := range regs {
			b = append(b, byte(w>>8), byte(w))
		}
		text := strings.TrimRight(string(b), "\x00 ")
		return Value{Text: strings.ToValidUTF8(text, "?"), Valid: true}, nil
	}
	bits := r.raw(regs)
	var n int64
	var f float64
	switch r.Type {
	case U16, U32:
		n = int64(bits)
	case S16:
		n = int64(int16(bits))
	case S32:
		n = int64(int32(bits))
	case F32:
		f = float64(math.Float32frombits(bits))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return Value{}, nil // a float device's "not available"
		}
	default:
		return Value{}, fmt.Errorf("regmap: %s at %d: unknown type %q", r.Point, r.Address, r.Type)
	}
	if r.Type != F32 {
		if r.Bit != nil || r.Bits != 0 {
			n = r.field(bits)
		}
		if slices.Contains(r.Invalid, n) {
			return Value{}, nil
		}
		f = float64(n)
	}
	v := Value{Number: f*r.scale() + r.Offset, Valid: true}
	if len(r.Enum) > 0 {
		v.Text, v.Valid = r.Enum[n]
		return v, nil
	}
	band := unitBands[r.Unit]
	if err := der.CheckRange(r.Point, v.Number, band[0], band[1], r.Unit); err != nil {
		return Value{}, fmt.Errorf("regmap: register %d: %w", r.Address, err)
	}
	return v, nil
}

func (r *Register) field(bits uint32) int64 {
	bit, width := 0, r.Bits
	if r.Bit != nil {
		bit = *r.Bit
	}
	if width == 0 {
		width = 1
	}
	return int64(bits>>uint(bit)) & (1<<uint(width) - 1)
}

// Encode turns an engineering value into the registers of s, refusing values outside its limits or
// its type. With a Direction the registers are the magnitude and dir is the direction code to
// write to Direction.Address.
func Encode(s *Setpoint, v float64) (regs []uint16, dir uint16, err error) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < s.Min || v > s.Max {
		return nil, 0, fmt.Errorf("regmap: %s at %d: %g outside %g..%g %s", s.Point, s.Address, v, s.Min, s.Max, s.Unit)
	}
	if d := s.Direction; d != nil {
		switch {
		case v > 0:
			dir = d.Positive
		case v < 0:
			dir, v = d.Negative, -v
		default:
			dir = d.Zero
		}
	}
	x := (v - s.Offset) / s.scale()
	if s.Type == F32 {
		return s.words(math.Float32bits(float32(x))), dir, nil
	}
	n := math.Round(x)
	lo, hi := intRanges[s.Type][0], intRanges[s.Type][1]
	if n < lo || n > hi {
		return nil, 0, fmt.Errorf("regmap: %s at %d: %g is raw %g, outside the %s range", s.Point, s.Address, v, n, s.Type)
	}
	return s.words(uint32(int64(n))), dir, nil
}

// intRanges are the raw ranges of the integer types.
var intRanges = map[string][2]float64{U16: {0, math.MaxUint16}, S16: {math.MinInt16, math.MaxInt16},
	U32: {0, math.MaxUint32}, S32: {math.MinInt32, math.MaxInt32}}

// words splits bits into the registers of s in its word order.
func (r *Register) words(bits uint32) []uint16 {
	if r.Size() == 1 {
		return []uint16{uint16(bits)}
	}
	hi, lo := uint16(bits>>16), uint16(bits)
	if r.WordOrder == LowFirst {
		return []uint16{lo, hi}
	}
	return []uint16{hi, lo}
}
