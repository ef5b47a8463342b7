package sunspec

import (
	"fmt"
	"math"
	"strings"
)

// Value is one decoded point of a model instance on a device.
type Value struct {
	Path string // "W", "module[0].DCA", "Crv[1].Pt[0].V"
	Def  *PointDef
	Addr uint16 // absolute register address of its first register
	// Valid is false when the point holds its type's "not implemented" value, or when it is scaled by
	// a scale factor that is itself not implemented or out of range: such a point is missing, not zero.
	Valid bool
	Bits  uint64 // the raw bit pattern (integers zero- or sign-extended as their type says)
	// Number is the value with its scale factor applied, for every numeric type (enumerations and
	// bitfields unscaled). It is meaningless when !Valid or when the point is textual.
	Number float64
	Scale  int16  // the exponent applied (0 when unscaled)
	Text   string // string, ipaddr, ipv6addr and eui48 points
}

// IsText reports whether points of type t decode to text rather than a number.
func (t PointType) IsText() bool {
	return t == String || t == IPAddr || t == IPv6Addr || t == EUI48
}

// IsSigned reports whether t is a two's complement integer type.
func (t PointType) IsSigned() bool {
	return t == Int16 || t == Sunssf || t == Int32 || t == Int64
}

// regsToBits joins big-endian registers into one bit pattern (at most 4 registers).
func regsToBits(regs []uint16) uint64 {
	var b uint64
	for _, r := range regs {
		b = b<<16 | uint64(r)
	}
	return b
}

// notImplemented is the raw pattern that marks an unimplemented point of a fixed-size type; ok is
// false for types whose sentinel is not one fixed pattern (floats use NaN, text all zeros).
func notImplemented(t PointType) (bits uint64, ok bool) {
	switch t {
	case Int16, Sunssf, Pad:
		return 0x8000, true
	case Uint16, Enum16, Bitfield16:
		return 0xFFFF, true
	case Acc16, Acc32, Acc64, IPAddr:
		return 0, true
	case Int32:
		return 0x80000000, true
	case Uint32, Enum32, Bitfield32:
		return 0xFFFFFFFF, true
	case Int64:
		return 0x8000000000000000, true
	case Uint64, EUI48:
		return 0xFFFFFFFFFFFFFFFF, true
	case Float32:
		return 0x7FC00000, true
	case Float64:
		return 0x7FF8000000000000, true
	}
	return 0, false
}

// decodeRaw decodes the registers of one point, without its scale factor. Count points are always
// valid: a count of zero is a valid (empty) repetition.
func decodeRaw(def *PointDef, regs []uint16) Value {
	v := Value{Def: def}
	t := def.Type
	switch t {
	case String:
		var sb strings.Builder
		for _, r := range regs {
			sb.WriteByte(byte(r >> 8))
			sb.WriteByte(byte(r))
		}
		s := sb.String()
		if i := strings.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		v.Text = strings.TrimRight(s, " ")
		v.Valid = v.Text != "" && !allZero(regs)
		return v
	case IPv6Addr:
		v.Valid = !allZero(regs)
		var parts []string
		for _, r := range regs {
			parts = append(parts, fmt.Sprintf("%x", r))
		}
		v.Text = strings.Join(parts, ":")
		return v
	}
	v.Bits = regsToBits(regs)
	switch t {
	case Int16, Sunssf:
		v.Number = float64(int16(v.Bits))
	case Int32:
		v.Number = float64(int32(v.Bits))
	case Int64:
		v.Number = float64(int64(v.Bits))
	case Float32:
		v.Number = float64(math.Float32frombits(uint32(v.Bits)))
	case Float64:
		v.Number = math.Float64frombits(v.Bits)
	default:
		v.Number = float64(v.Bits)
	}
	if t == IPAddr {
		v.Text = fmt.Sprintf("%d.%d.%d.%d", byte(v.Bits>>24), byte(v.Bits>>16), byte(v.Bits>>8), byte(v.Bits))
	}
	if t == EUI48 {
		b := v.Bits
		v.Text = fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", byte(b>>40), byte(b>>32), byte(b>>24), byte(b>>16), byte(b>>8), byte(b))
	}
	switch {
	case t == Count:
		v.Valid = true
	case t == Float32 || t == Float64:
		v.Valid = !math.IsNaN(v.Number) && !math.IsInf(v.Number, 0)
	default:
		ni, _ := notImplemented(t)
		v.Valid = v.Bits != ni
	}
	return v
}

func allZero(regs []uint16) bool {
	for _, r := range regs {
		if r != 0 {
			return false
		}
	}
	return true
}

// scalable reports whether a scale factor applies to points of type t.
func scalable(t PointType) bool {
	switch t {
	case Int16, Uint16, Acc16, Int32, Uint32, Acc32, Int64, Uint64, Acc64, Count:
		return true
	}
	return false
}

// maxScale bounds scale factors: SunSpec allows -10..10.
const maxScale = 10

// applyScale multiplies by 10^sf, marking the value missing when sf is missing or out of range.
func applyScale(v *Value, sf Value) {
	if !sf.Valid {
		v.Valid = false
		return
	}
	e := int16(sf.Bits)
	if e < -maxScale || e > maxScale {
		v.Valid = false
		return
	}
	v.Scale = e
	v.Number = scaleNumber(v.Number, e)
}

// scaleNumber computes n·10^e so that decimal results are exact where a float64 can hold them
// (230.1, not 230.10000000000002).
func scaleNumber(n float64, e int16) float64 {
	if e >= 0 {
		return n * math.Pow10(int(e))
	}
	return n / math.Pow10(int(-e))
}

// EncodeNumber turns a value in the point's units into its registers, dividing by 10^sf for scaled
// points. It refuses values outside the type's range and values that would collide with the
// "not implemented" pattern.
func EncodeNumber(def *PointDef, value float64, sf int16) ([]uint16, error) {
	if def.Type.IsText() || def.Type == Pad {
		return nil, fmt.Errorf("sunspec: point %s is %s, not a number", def.Name, def.Type)
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return nil, fmt.Errorf("sunspec: point %s: value %v is not a finite number", def.Name, value)
	}
	if def.SF != "" && scalable(def.Type) {
		if sf < -maxScale || sf > maxScale {
			return nil, fmt.Errorf("sunspec: point %s: scale factor %d outside -10..10", def.Name, sf)
		}
		value = scaleNumber(value, -sf)
	}
	var bits uint64
	switch def.Type {
	case Float32:
		bits = uint64(math.Float32bits(float32(value)))
	case Float64:
		bits = math.Float64bits(value)
	default:
		r := math.Round(value)
		lo, hi := intRange(def.Type)
		if r < lo || r > hi {
			return nil, fmt.Errorf("sunspec: point %s: value %v (raw %v) outside %s range %v..%v", def.Name, value, r, def.Type, lo, hi)
		}
		if def.Type.IsSigned() {
			bits = uint64(int64(r))
		} else {
			bits = uint64(r)
		}
	}
	n := def.Type.fixedSize()
	bits &= mask(n)
	if ni, ok := notImplemented(def.Type); ok && bits == ni && def.Type != Count {
		return nil, fmt.Errorf("sunspec: point %s: value %v encodes as the not-implemented pattern %#x", def.Name, value, ni)
	}
	return bitsToRegs(bits, n), nil
}

func mask(regs int) uint64 {
	if regs >= 4 {
		return math.MaxUint64
	}
	return 1<<(16*uint(regs)) - 1
}

func bitsToRegs(bits uint64, n int) []uint16 {
	out := make([]uint16, n)
	for i := n - 1; i >= 0; i-- {
		out[i] = uint16(bits)
		bits >>= 16
	}
	return out
}

// intRange is the representable range of an integer type. 64-bit ranges are limited to what a
// float64 holds exactly.
func intRange(t PointType) (lo, hi float64) {
	switch t {
	case Int16, Sunssf:
		return math.MinInt16, math.MaxInt16
	case Int32:
		return math.MinInt32, math.MaxInt32
	case Int64:
		return -(1 << 53), 1 << 53
	case Uint32, Acc32, Enum32, Bitfield32, IPAddr:
		return 0, math.MaxUint32
	case Uint64, Acc64, EUI48:
		return 0, 1 << 53
	default:
		return 0, math.MaxUint16
	}
}

// EncodeString pads s with NULs to the point's size; it refuses text that does not fit.
func EncodeString(def *PointDef, s string) ([]uint16, error) {
	if def.Type != String {
		return nil, fmt.Errorf("sunspec: point %s is %s, not a string", def.Name, def.Type)
	}
	if len(s) > 2*def.Size {
		return nil, fmt.Errorf("sunspec: point %s: %d bytes do not fit in %d registers", def.Name, len(s), def.Size)
	}
	out := make([]uint16, def.Size)
	for i := 0; i < len(s); i++ {
		if i%2 == 0 {
			out[i/2] = uint16(s[i]) << 8
		} else {
			out[i/2] |= uint16(s[i])
		}
	}
	return out, nil
}

// notImplementedRegs is what an unimplemented point of def holds.
func notImplementedRegs(def *PointDef) []uint16 {
	if ni, ok := notImplemented(def.Type); ok {
		return bitsToRegs(ni, def.Type.fixedSize())
	}
	return make([]uint16, def.Size) // strings and ipv6 addresses: all zeros
}
