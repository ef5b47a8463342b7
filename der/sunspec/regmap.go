package sunspec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Marker is "SunS", the two registers that open a SunSpec register map.
var Marker = [2]uint16{0x5375, 0x6e53}

// EndMarker is the ID that ends the model chain.
const EndMarker = 0xFFFF

// ErrIllegalAddress is returned by a Map for registers outside it; a Modbus server answers it with
// exception code 2 (illegal data address).
var ErrIllegalAddress = errors.New("sunspec: illegal data address")

// ErrReadOnly is returned by a Map for a write that touches a register of a read-only point; a
// Modbus server answers it with exception code 2 as well, as SunSpec devices do.
var ErrReadOnly = errors.New("sunspec: register is not writable")

// ModelSpec asks a Map for one model instance. Repeats gives the number of instances of each
// repeating group by group name (for example {"module": 2} for model 160); a group absent from it
// repeats once.
type ModelSpec struct {
	ID      uint16
	Repeats map[string]int
}

// Map is a SunSpec register map, the server side of the protocol: the HIL rig serves one per device
// and tests serve them to the client. Values start as "not implemented" except ID, L and counts. It
// is safe for concurrent use.
type Map struct {
	mu      sync.Mutex
	base    uint16
	regs    []uint16 // regs[0] is the register at base
	models  []*Block // layout of each instance (values are not kept up to date here)
	owner   []int32  // per register: index into points of the writable point it belongs to, or -1
	points  []pointRef
	onWrite func(model uint16, paths []string)
}

type pointRef struct {
	model int // index into models
	point int // index into models[model].Points
}

// NewMap lays out "SunS" at base, the models in order, and the end marker.
func NewMap(base uint16, specs ...ModelSpec) (*Map, error) {
	m := &Map{base: base, regs: []uint16{Marker[0], Marker[1]}}
	for _, s := range specs {
		def, ok := Model(s.ID)
		if !ok {
			return nil, fmt.Errorf("sunspec: map: model %d is not among the known models %v", s.ID, ModelIDs())
		}
		regs, err := layoutRegisters(def, s.Repeats)
		if err != nil {
			return nil, err
		}
		addr := int(base) + len(m.regs)
		if addr+len(regs)+2 > 0xFFFF {
			return nil, fmt.Errorf("sunspec: map: model %d at %d does not fit below register 65535", s.ID, addr)
		}
		b, err := Decode(def, uint16(addr), regs)
		if err != nil {
			return nil, fmt.Errorf("sunspec: map: laying out model %d: %w", s.ID, err)
		}
		m.models = append(m.models, b)
		m.regs = append(m.regs, regs...)
	}
	m.regs = append(m.regs, EndMarker, 0)
	m.indexWritable()
	return m, nil
}

func (m *Map) indexWritable() {
	m.owner = make([]int32, len(m.regs))
	for i := range m.owner {
		m.owner[i] = -1
	}
	for mi, b := range m.models {
		for pi, v := range b.Points {
			if !v.Def.Writable {
				continue
			}
			m.points = append(m.points, pointRef{mi, pi})
			for k := 0; k < v.Def.Size; k++ {
				m.owner[int(v.Addr)-int(m.base)+k] = int32(len(m.points) - 1)
			}
		}
	}
}

// layoutRegisters builds the registers of one instance of def: ID, L, counts, and every other point
// "not implemented".
func layoutRegisters(def *ModelDef, repeats map[string]int) ([]uint16, error) {
	counters := map[string]string{} // count point name -> group name
	var collect func(g *GroupDef)
	collect = func(g *GroupDef) {
		for i := range g.Groups {
			if p := g.Groups[i].Count.Point; p != "" {
				counters[p] = g.Groups[i].Name
			}
			collect(&g.Groups[i])
		}
	}
	collect(&def.Group)
	for name, n := range repeats {
		if n < 0 || n > maxRepeats {
			return nil, fmt.Errorf("sunspec: map: model %d: group %q repeats %d times, outside 0..%d", def.ID, name, n, maxRepeats)
		}
	}
	var regs []uint16
	var emit func(g *GroupDef) error
	emit = func(g *GroupDef) error {
		for i := range g.Points {
			p := &g.Points[i]
			switch {
			case p.HasValue && p.Name == "ID":
				regs = append(regs, uint16(p.Value))
			case p.Name == "L" && len(regs) == 1:
				regs = append(regs, 0) // filled in below
			case counters[p.Name] != "":
				regs = append(regs, uint16(repeatCount(repeats, counters[p.Name])))
			default:
				regs = append(regs, notImplementedRegs(p)...)
			}
		}
		for i := range g.Groups {
			sub := &g.Groups[i]
			n := sub.Count.Fixed
			if sub.Count.Point != "" || sub.Count.Fill {
				n = repeatCount(repeats, sub.Name)
			}
			for k := 0; k < n; k++ {
				if err := emit(sub); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := emit(&def.Group); err != nil {
		return nil, err
	}
	regs[1] = uint16(len(regs) - 2)
	return regs, nil
}

func repeatCount(repeats map[string]int, group string) int {
	if n, ok := repeats[group]; ok {
		return n
	}
	return 1
}

// Base is the address of the "SunS" marker.
func (m *Map) Base() uint16 { return m.base }

// Len is the number of registers from the marker to the end marker inclusive.
func (m *Map) Len() int { return len(m.regs) }

// Models lists the model IDs in the map in order.
func (m *Map) Models() []uint16 {
	ids := make([]uint16, len(m.models))
	for i, b := range m.models {
		ids[i] = b.ID
	}
	return ids
}

// OnWrite registers f, called after each successful client write with the model and the paths of
// the points it touched. f runs with the map unlocked.
func (m *Map) OnWrite(f func(model uint16, paths []string)) {
	m.mu.Lock()
	m.onWrite = f
	m.mu.Unlock()
}

// ReadRegisters returns n registers from addr.
func (m *Map) ReadRegisters(addr, n uint16) ([]uint16, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	lo, hi := int(addr)-int(m.base), int(addr)-int(m.base)+int(n)
	if n == 0 || lo < 0 || hi > len(m.regs) {
		return nil, fmt.Errorf("%w: %d registers at %d (map covers %d..%d)", ErrIllegalAddress, n, addr, m.base, int(m.base)+len(m.regs)-1)
	}
	return append([]uint16(nil), m.regs[lo:hi]...), nil
}

// WriteRegisters writes vals from addr, as a client does; every register must belong to a writable
// point.
func (m *Map) WriteRegisters(addr uint16, vals []uint16) error {
	m.mu.Lock()
	lo, hi := int(addr)-int(m.base), int(addr)-int(m.base)+len(vals)
	if len(vals) == 0 || lo < 0 || hi > len(m.regs) {
		m.mu.Unlock()
		return fmt.Errorf("%w: %d registers at %d", ErrIllegalAddress, len(vals), addr)
	}
	touched := map[int]bool{}
	for i := lo; i < hi; i++ {
		if m.owner[i] < 0 {
			m.mu.Unlock()
			return fmt.Errorf("%w: register %d", ErrReadOnly, int(m.base)+i)
		}
		touched[int(m.owner[i])] = true
	}
	copy(m.regs[lo:hi], vals)
	cb := m.onWrite
	byModel := map[uint16][]string{}
	var order []uint16
	for pi := range m.points {
		if !touched[pi] {
			continue
		}
		ref := m.points[pi]
		id := m.models[ref.model].ID
		if _, seen := byModel[id]; !seen {
			order = append(order, id)
		}
		byModel[id] = append(byModel[id], m.models[ref.model].Points[ref.point].Path)
	}
	m.mu.Unlock()
	if cb != nil {
		for _, id := range order {
			cb(id, byModel[id])
		}
	}
	return nil
}

// find returns the layout of the first instance of model id and the index of path in it.
func (m *Map) find(model uint16, path string) (*Block, int, error) {
	for _, b := range m.models {
		if b.ID != model {
			continue
		}
		i, ok := b.index[path]
		if !ok {
			return nil, 0, fmt.Errorf("sunspec: map: model %d has no point %q", model, path)
		}
		return b, i, nil
	}
	return nil, 0, fmt.Errorf("sunspec: map: no model %d (models %v)", model, m.Models())
}

// scaleOf resolves the scale factor of the point at index i of b from the map's registers: the
// scale factor point is looked up in the point's own group instance, then outwards.
func (m *Map) scaleOf(b *Block, i int) (int16, error) {
	v := b.Points[i]
	if v.Def.SF == "" || !scalable(v.Def.Type) {
		return 0, nil
	}
	prefix := v.Path[:len(v.Path)-len(v.Def.Name)]
	for {
		if j, ok := b.index[prefix+v.Def.SF]; ok {
			raw := m.regs[int(b.Points[j].Addr)-int(m.base)]
			if raw == 0x8000 {
				return 0, fmt.Errorf("sunspec: map: model %d: scale factor %s of %s is not set", b.ID, v.Def.SF, v.Path)
			}
			return int16(raw), nil
		}
		if prefix == "" {
			return 0, fmt.Errorf("sunspec: map: model %d: no scale factor %s for %s", b.ID, v.Def.SF, v.Path)
		}
		prefix = outerPrefix(prefix)
	}
}

// outerPrefix drops the innermost group of a path prefix: "Crv[0].Pt[1]." -> "Crv[0].".
func outerPrefix(prefix string) string {
	trimmed := strings.TrimSuffix(prefix, ".")
	if k := strings.LastIndexByte(trimmed, '.'); k >= 0 {
		return trimmed[:k+1]
	}
	return ""
}

// Set stores value (in the point's units) at path of model, scaled by the point's scale factor as
// the map currently holds it. Set scale factors first.
func (m *Map) Set(model uint16, path string, value float64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, i, err := m.find(model, path)
	if err != nil {
		return err
	}
	sf, err := m.scaleOf(b, i)
	if err != nil {
		return err
	}
	regs, err := EncodeNumber(b.Points[i].Def, value, sf)
	if err != nil {
		return fmt.Errorf("sunspec: map: model %d: %w", model, err)
	}
	copy(m.regs[int(b.Points[i].Addr)-int(m.base):], regs)
	return nil
}

// SetString stores a string point.
func (m *Map) SetString(model uint16, path, s string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, i, err := m.find(model, path)
	if err != nil {
		return err
	}
	regs, err := EncodeString(b.Points[i].Def, s)
	if err != nil {
		return err
	}
	copy(m.regs[int(b.Points[i].Addr)-int(m.base):], regs)
	return nil
}

// Clear makes the point at path "not implemented" again.
func (m *Map) Clear(model uint16, path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, i, err := m.find(model, path)
	if err != nil {
		return err
	}
	copy(m.regs[int(b.Points[i].Addr)-int(m.base):], notImplementedRegs(b.Points[i].Def))
	return nil
}

// Get decodes the point at path of model as a client would read it.
func (m *Map) Get(model uint16, path string) (Value, error) {
	b, err := m.Block(model)
	if err != nil {
		return Value{}, err
	}
	v, ok := b.Get(path)
	if !ok {
		return Value{}, fmt.Errorf("sunspec: map: model %d has no point %q", model, path)
	}
	return v, nil
}

// Block decodes the current registers of the first instance of model.
func (m *Map) Block(model uint16) (*Block, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.models {
		if b.ID == model {
			lo := int(b.Addr) - int(m.base)
			return Decode(b.Def, b.Addr, append([]uint16(nil), m.regs[lo:lo+int(b.Length)+2]...))
		}
	}
	return nil, fmt.Errorf("sunspec: map: no model %d (models %v)", model, m.Models())
}

// Registers serves the map directly as a Registers, without a network in between.
func (m *Map) Registers() Registers { return mapRegisters{m} }

type mapRegisters struct{ m *Map }

func (r mapRegisters) ReadHoldingRegisters(_ context.Context, addr, n uint16) ([]uint16, error) {
	return r.m.ReadRegisters(addr, n)
}

func (r mapRegisters) WriteMultipleRegisters(_ context.Context, addr uint16, vals []uint16) error {
	return r.m.WriteRegisters(addr, vals)
}
