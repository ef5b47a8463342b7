package sunspec

import (
	"fmt"
	"strconv"
)

// Block is one model instance read from a device, decoded.
type Block struct {
	ID     uint16
	Addr   uint16 // address of its ID register
	Length uint16 // L: registers after ID and L
	Def    *ModelDef
	Points []Value // in register order, pads included
	index  map[string]int
}

// Get returns the decoded point at path ("W", "module[0].DCW").
func (b *Block) Get(path string) (Value, bool) {
	i, ok := b.index[path]
	if !ok {
		return Value{}, false
	}
	return b.Points[i], true
}

// Number returns the scaled value of the point at path; ok is false when the point does not exist
// in the model or is not implemented by the device.
func (b *Block) Number(path string) (float64, bool) {
	v, ok := b.Get(path)
	if !ok || !v.Valid || v.Def.Type.IsText() {
		return 0, false
	}
	return v.Number, true
}

// maxRepeats bounds a repeating group's count read from a device, so that garbage cannot make the
// decoder allocate without limit.
const maxRepeats = 1000

// Decode decodes the registers of one model instance (starting with its ID and L registers, read
// at addr). Points beyond the definition (a newer revision of the model) are ignored. A block of a
// fixed-length model that is shorter than the definition is accepted when every point it lacks (in
// whole or in part) is optional or padding: real devices end model 1 before its trailing pad
// (L = 65) and leave out optional points at the end; those points decode as missing. A block that
// lacks a mandatory point is an error.
func Decode(def *ModelDef, addr uint16, regs []uint16) (*Block, error) {
	if len(regs) < 2 {
		return nil, fmt.Errorf("sunspec: model %d at %d: %d registers, need at least ID and L", def.ID, addr, len(regs))
	}
	if regs[0] != def.ID {
		return nil, fmt.Errorf("sunspec: model at %d: ID %d, want %d", addr, regs[0], def.ID)
	}
	if int(regs[1]) != len(regs)-2 {
		return nil, fmt.Errorf("sunspec: model %d at %d: length %d, but %d registers follow ID and L", def.ID, addr, regs[1], len(regs)-2)
	}
	b := &Block{ID: def.ID, Addr: addr, Length: regs[1], Def: def, index: map[string]int{}}
	if n, fixed := def.FixedLength(); fixed && int(regs[1]) < n {
		full, err := fillOptionalTail(def, addr, regs, n)
		if err != nil {
			return nil, err
		}
		regs = full
	}
	d := decoder{block: b, regs: regs, addr: addr}
	end, err := d.group(&def.Group, 0, "", nil)
	if err != nil {
		return nil, err
	}
	_ = end
	return b, nil
}

// fillOptionalTail extends the registers of a fixed-length model that the device ended early
// (length L < n) with the "not implemented" value of every point it lacks, after checking that none
// of them is mandatory. A point cut in the middle counts as lacking.
func fillOptionalTail(def *ModelDef, addr uint16, regs []uint16, n int) ([]uint16, error) {
	have := len(regs) // registers the device gave, ID and L included
	full := append(make([]uint16, 0, n+2), regs...)
	var missingMandatory []string
	var walk func(g *GroupDef, off int, prefix string) int
	walk = func(g *GroupDef, off int, prefix string) int {
		for i := range g.Points {
			p := &g.Points[i]
			start := off + p.Offset
			if start+p.Size <= have {
				continue
			}
			if p.Mandatory && p.Type != Pad {
				missingMandatory = append(missingMandatory, prefix+p.Name)
			}
			full = append(full[:start], notImplementedRegs(p)...)
		}
		off += g.Size
		for gi := range g.Groups {
			sub := &g.Groups[gi]
			for k := 0; k < sub.Count.Fixed; k++ {
				off = walk(sub, off, prefix+sub.Name+"["+strconv.Itoa(k)+"].")
			}
		}
		return off
	}
	walk(&def.Group, 0, "")
	if len(missingMandatory) > 0 {
		return nil, fmt.Errorf("sunspec: model %d at %d: length %d, want %d: mandatory points %v missing",
			def.ID, addr, regs[1], n, missingMandatory)
	}
	if len(full) != n+2 {
		return nil, fmt.Errorf("sunspec: model %d at %d: definition lays out %d registers, want %d", def.ID, addr, len(full)-2, n)
	}
	return full, nil
}

type decoder struct {
	block *Block
	regs  []uint16
	addr  uint16
}

// scope maps the point names of one group instance to their index in block.Points; scale factors
// and counts are looked up from the innermost instance outwards.
type scope map[string]int

func (d *decoder) lookup(scopes []scope, name string) (Value, bool) {
	for i := len(scopes) - 1; i >= 0; i-- {
		if idx, ok := scopes[i][name]; ok {
			return d.block.Points[idx], true
		}
	}
	return Value{}, false
}

// group decodes one instance of g at register offset off and returns the offset after it.
func (d *decoder) group(g *GroupDef, off int, prefix string, outer []scope) (int, error) {
	if off+g.Size > len(d.regs) {
		return 0, fmt.Errorf("sunspec: model %d at %d: group %q needs %d registers at offset %d, model has %d",
			d.block.ID, d.addr, prefix+g.Name, g.Size, off, len(d.regs))
	}
	local := scope{}
	scopes := append(append([]scope(nil), outer...), local)
	first := len(d.block.Points)
	for i := range g.Points {
		p := &g.Points[i]
		v := decodeRaw(p, d.regs[off+p.Offset:off+p.Offset+p.Size])
		v.Path = prefix + p.Name
		v.Addr = d.addr + uint16(off+p.Offset)
		local[p.Name] = len(d.block.Points)
		d.block.index[v.Path] = len(d.block.Points)
		d.block.Points = append(d.block.Points, v)
	}
	for i := first; i < len(d.block.Points); i++ {
		v := &d.block.Points[i]
		if v.Def.SF == "" || !scalable(v.Def.Type) || !v.Valid {
			continue
		}
		sf, ok := d.lookup(scopes, v.Def.SF)
		if !ok {
			return 0, fmt.Errorf("sunspec: model %d: point %s names scale factor %s, which the model lacks", d.block.ID, v.Path, v.Def.SF)
		}
		applyScale(v, sf)
	}
	off += g.Size
	for gi := range g.Groups {
		sub := &g.Groups[gi]
		n, err := d.repeats(sub, off, scopes)
		if err != nil {
			return 0, err
		}
		for k := 0; k < n; k++ {
			name := prefix + sub.Name
			if !(sub.Count.Fixed == 1 && sub.Count.Point == "" && !sub.Count.Fill) {
				name += "[" + strconv.Itoa(k) + "]"
			}
			off, err = d.group(sub, off, name+".", scopes)
			if err != nil {
				return 0, err
			}
		}
	}
	return off, nil
}

// repeats says how many instances of g follow at off.
func (d *decoder) repeats(g *GroupDef, off int, scopes []scope) (int, error) {
	switch {
	case g.Count.Fill:
		if len(g.Groups) > 0 || g.Size == 0 {
			return 0, fmt.Errorf("sunspec: model %d: group %q fills the model but is not of fixed size", d.block.ID, g.Name)
		}
		rest := len(d.regs) - off
		if rest%g.Size != 0 {
			return 0, fmt.Errorf("sunspec: model %d at %d: %d registers left for group %q of %d registers each",
				d.block.ID, d.addr, rest, g.Name, g.Size)
		}
		return rest / g.Size, nil
	case g.Count.Point != "":
		c, ok := d.lookup(scopes, g.Count.Point)
		if !ok {
			return 0, fmt.Errorf("sunspec: model %d: group %q counted by %s, which the model lacks", d.block.ID, g.Name, g.Count.Point)
		}
		if !c.Valid || c.Number < 0 || c.Number > maxRepeats {
			return 0, fmt.Errorf("sunspec: model %d at %d: count %s = %v for group %q outside 0..%d",
				d.block.ID, d.addr, g.Count.Point, c.Number, g.Name, maxRepeats)
		}
		return int(c.Number), nil
	default:
		return g.Count.Fixed, nil
	}
}
