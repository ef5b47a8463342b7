package regmap

import (
	"fmt"
	"math"
	"strings"
)

// Tables of a Modbus device.
const (
	Holding = "holding" // function 3 (read), 16 (write)
	Input   = "input"   // function 4, read only
)

// Data types of a register.
const (
	U16 = "u16"
	S16 = "s16"
	U32 = "u32"
	S32 = "s32"
	F32 = "float32"
	Str = "string"
)

// Word orders of 32-bit types: most devices send the high word first (Modbus's own byte order,
// "ABCD"); some (Sungrow, Growatt's 32-bit values on some firmware) send the low word first ("CDAB").
const (
	HighFirst = "high-first"
	LowFirst  = "low-first"
)

// Register is one point of a device: where it is, how it is encoded and what it means. The
// engineering value is raw × Scale + Offset (a negative scale turns a device's sign convention
// into ours: a meter that counts export positive has scale -1 on meter.power).
type Register struct {
	Point     string  `yaml:"point"`   // pv.power, battery.soc, meter.power ...
	Address   uint16  `yaml:"address"` // the protocol address (0-based, as on the wire)
	Table     string  `yaml:"table"`   // holding (default) or input
	Type      string  `yaml:"type"`    // u16, s16, u32, s32, float32, string
	WordOrder string  `yaml:"word_order"`
	Words     int     `yaml:"words"` // registers of a string
	Scale     float64 `yaml:"scale"` // 0 means 1
	Offset    float64 `yaml:"offset"`
	// Bit and Bits select a bit field of an integer (Bits defaults to 1 when Bit is set): the value
	// is (raw >> Bit) & (2^Bits − 1), before scale and offset.
	Bit  *int `yaml:"bit"`
	Bits int  `yaml:"bits"`
	// Enum labels integer values (a status register); a value without label reads as invalid.
	Enum map[int64]string `yaml:"enum"`
	// Invalid lists raw values the device sends for "not available" (0xFFFF, 0x7FFF ...).
	Invalid []int64 `yaml:"invalid"`
	// Unit is the physical unit of the value (W, V, Hz, %, Wh, A), which sets its plausible band.
	Unit string `yaml:"unit"`
	// SignBit, for a device that reports a magnitude and the direction in a status word (Sungrow's
	// battery power and running state), negates the value while that bit is set.
	SignBit *SignBit `yaml:"sign_bit"`
}

// SignBit is a bit of a u16 register in the same table as the point it signs.
type SignBit struct {
	Address uint16 `yaml:"address"`
	Bit     int    `yaml:"bit"`
}

// Direction is a companion register of a set-point whose device takes the sign apart from the
// magnitude (Sungrow: 0xAA charge, 0xBB discharge, 0xCC stop, and the power as a magnitude).
type Direction struct {
	Address  uint16 `yaml:"address"`
	Positive uint16 `yaml:"positive"`
	Negative uint16 `yaml:"negative"`
	Zero     uint16 `yaml:"zero"`
}

// Setpoint is a writable register with the limits the device accepts, in engineering units.
type Setpoint struct {
	Register  `yaml:",inline"`
	Min       float64    `yaml:"min"`
	Max       float64    `yaml:"max"`
	Direction *Direction `yaml:"direction"`
}

// Map is a device's register map.
type Map struct {
	Points    []Register `yaml:"points"`
	Setpoints []Setpoint `yaml:"setpoints"`
}

// Size is how many registers r occupies.
func (r *Register) Size() int {
	switch r.Type {
	case U32, S32, F32:
		return 2
	case Str:
		return r.Words
	}
	return 1
}

func (r *Register) scale() float64 {
	if r.Scale == 0 {
		return 1
	}
	return r.Scale
}

func (r *Register) table() string {
	if r.Table == "" {
		return Holding
	}
	return r.Table
}

// Validate checks a map; every error names the point and the field.
func (m *Map) Validate() error {
	var errs []string
	seen := map[string]bool{}
	for i := range m.Points {
		r := &m.Points[i]
		if err := r.validate(); err != nil {
			errs = append(errs, fmt.Sprintf("points[%d] %s: %v", i, r.Point, err))
		}
		if seen[r.Point] {
			errs = append(errs, fmt.Sprintf("points[%d] %s: point defined twice", i, r.Point))
		}
		seen[r.Point] = true
	}
	written := map[string]bool{}
	for i := range m.Setpoints {
		s := &m.Setpoints[i]
		if err := s.validate(); err != nil {
			errs = append(errs, fmt.Sprintf("setpoints[%d] %s: %v", i, s.Point, err))
		}
		key := fmt.Sprintf("%d", s.Address)
		if written[key] {
			errs = append(errs, fmt.Sprintf("setpoints[%d] %s: register %d written by two set-points", i, s.Point, s.Address))
		}
		written[key] = true
	}
	if len(m.Points) == 0 && len(m.Setpoints) == 0 {
		errs = append(errs, "no points and no set-points")
	}
	if len(errs) > 0 {
		return fmt.Errorf("regmap: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (r *Register) validate() error {
	if r.Point == "" {
		return fmt.Errorf("point: missing")
	}
	switch r.Type {
	case U16, S16, U32, S32, F32:
		if r.Words != 0 {
			return fmt.Errorf("words: only for type string")
		}
	case Str:
		if r.Words < 1 || r.Words > 64 {
			return fmt.Errorf("words: %d outside 1..64", r.Words)
		}
	default:
		return fmt.Errorf("type: %q: accepted u16, s16, u32, s32, float32, string", r.Type)
	}
	if t := r.Table; t != "" && t != Holding && t != Input {
		return fmt.Errorf("table: %q: accepted holding or input", t)
	}
	if w := r.WordOrder; w != "" && w != HighFirst && w != LowFirst {
		return fmt.Errorf("word_order: %q: accepted high-first or low-first", w)
	}
	if int(r.Address)+r.Size() > 65536 {
		return fmt.Errorf("address: %d + %d registers beyond 65535", r.Address, r.Size())
	}
	if math.IsNaN(r.Scale) || math.IsInf(r.Scale, 0) || math.IsNaN(r.Offset) || math.IsInf(r.Offset, 0) {
		return fmt.Errorf("scale and offset must be finite")
	}
	if r.Bit != nil || r.Bits != 0 {
		if r.Type == F32 || r.Type == Str {
			return fmt.Errorf("bit: only for integer types")
		}
		bit, bits := 0, r.Bits
		if r.Bit != nil {
			bit = *r.Bit
		}
		if bits == 0 {
			bits = 1
		}
		if bit < 0 || bits < 1 || bit+bits > 16*r.Size() {
			return fmt.Errorf("bit %d, bits %d: outside the %d bits of %s", bit, bits, 16*r.Size(), r.Type)
		}
	}
	if sb := r.SignBit; sb != nil && (sb.Bit < 0 || sb.Bit > 15 || r.Type == Str) {
		return fmt.Errorf("sign_bit: bit %d outside 0..15 of a number's status register", sb.Bit)
	}
	if _, ok := unitBands[r.Unit]; !ok {
		return fmt.Errorf("unit: %q: accepted %s", r.Unit, unitNames())
	}
	return nil
}

func (s *Setpoint) validate() error {
	if err := s.Register.validate(); err != nil {
		return err
	}
	if s.table() != Holding {
		return fmt.Errorf("table: a set-point is a holding register")
	}
	if s.Type == Str || s.Bit != nil || s.Bits != 0 || len(s.Enum) > 0 {
		return fmt.Errorf("type: a set-point is a plain number, not a string, bit field or enum")
	}
	if !(s.Min < s.Max) {
		return fmt.Errorf("min %g, max %g: want min < max", s.Min, s.Max)
	}
	if d := s.Direction; d != nil && d.Address >= s.Address && int(d.Address) < int(s.Address)+s.Size() {
		return fmt.Errorf("direction: address %d overlaps the set-point's own register", d.Address)
	}
	return nil
}
