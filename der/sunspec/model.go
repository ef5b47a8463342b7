package sunspec

import (
	"fmt"
	"sort"
)

//go:generate go run gen.go

// PointType is the SunSpec data type of a point; it fixes its size, its encoding and its
// "not implemented" value.
type PointType uint8

// The SunSpec point types.
const (
	Int16 PointType = iota + 1
	Uint16
	Count
	Acc16
	Enum16
	Bitfield16
	Pad
	Sunssf
	Int32
	Uint32
	Acc32
	Enum32
	Bitfield32
	IPAddr
	Int64
	Uint64
	Acc64
	Float32
	Float64
	String
	IPv6Addr
	EUI48
)

var typeNames = map[PointType]string{
	Int16: "int16", Uint16: "uint16", Count: "count", Acc16: "acc16", Enum16: "enum16",
	Bitfield16: "bitfield16", Pad: "pad", Sunssf: "sunssf", Int32: "int32", Uint32: "uint32",
	Acc32: "acc32", Enum32: "enum32", Bitfield32: "bitfield32", IPAddr: "ipaddr", Int64: "int64",
	Uint64: "uint64", Acc64: "acc64", Float32: "float32", Float64: "float64", String: "string",
	IPv6Addr: "ipv6addr", EUI48: "eui48",
}

func (t PointType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("PointType(%d)", uint8(t))
}

// ParsePointType maps a SunSpec type name ("int16", "acc32", ...) to its PointType.
func ParsePointType(name string) (PointType, bool) {
	for t, n := range typeNames {
		if n == name {
			return t, true
		}
	}
	return 0, false
}

// fixedSize is the size in registers of every type except string, which the model gives.
func (t PointType) fixedSize() int {
	switch t {
	case Int32, Uint32, Acc32, Enum32, Bitfield32, IPAddr, Float32:
		return 2
	case Int64, Uint64, Acc64, Float64:
		return 4
	case IPv6Addr:
		return 8
	case EUI48:
		return 4
	case String:
		return 0
	default:
		return 1
	}
}

// Symbol names one value of an enumeration or one bit of a bitfield.
type Symbol struct {
	Name  string
	Value int64
}

// PointDef is one point of a model as the official definition gives it.
type PointDef struct {
	Name      string
	Offset    int // registers from the start of its group
	Size      int // registers
	Type      PointType
	Units     string
	SF        string // name of the sunssf point that scales it, "" when unscaled
	Writable  bool   // access RW
	Mandatory bool
	Static    bool
	HasValue  bool  // the definition fixes the value (model ID, fixed length)
	Value     int64 // the fixed value when HasValue
	Symbols   []Symbol
}

// GroupDef is a group of points; the top group of a model holds ID and L.
type GroupDef struct {
	Name  string
	Size  int // registers of the points of one instance, without its sub-groups
	Count GroupCount
	// Points in register order; sub-groups follow the points.
	Points []PointDef
	Groups []GroupDef
}

// GroupCount says how many times a group repeats: once when Fixed is 1 and Point is "", Fixed times,
// as many times as the point named Point holds, or (Fill) as many times as the model length allows.
type GroupCount struct {
	Fixed int
	Point string
	Fill  bool
}

// ModelDef is one SunSpec information model.
type ModelDef struct {
	ID    uint16
	Name  string
	Label string
	Group GroupDef
}

// Point returns the top-level point named name.
func (m *ModelDef) Point(name string) (*PointDef, bool) {
	for i := range m.Group.Points {
		if m.Group.Points[i].Name == name {
			return &m.Group.Points[i], true
		}
	}
	return nil, false
}

// FixedLength is the model length (L, without ID and L) when the model has no repeating groups.
func (m *ModelDef) FixedLength() (int, bool) {
	if len(m.Group.Groups) > 0 {
		n := m.Group.Size - 2
		for _, g := range m.Group.Groups {
			if g.Count.Point != "" || g.Count.Fill || len(g.Groups) > 0 {
				return 0, false
			}
			n += g.Count.Fixed * g.Size
		}
		return n, true
	}
	return m.Group.Size - 2, true
}

// Model returns the definition of model id, generated from the official JSON definitions.
func Model(id uint16) (*ModelDef, bool) {
	m, ok := modelDefs[id]
	return m, ok
}

// ModelIDs lists the models this package knows, ascending.
func ModelIDs() []uint16 {
	ids := make([]uint16, 0, len(modelDefs))
	for id := range modelDefs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
