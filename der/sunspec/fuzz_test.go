package sunspec

import (
	"context"
	"encoding/binary"
	"testing"
)

func bytesToRegs(b []byte) []uint16 {
	regs := make([]uint16, len(b)/2)
	for i := range regs {
		regs[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return regs
}

// FuzzDecode feeds arbitrary registers to every model's decoder: it must return a block or an
// error, never panic, and every valid number must be finite.
func FuzzDecode(f *testing.F) {
	m := hybridMap(f)
	for _, id := range m.Models() {
		b, _ := m.Block(id)
		regs, _ := m.ReadRegisters(b.Addr, b.Length+2)
		raw := make([]byte, 1+2*len(regs))
		raw[0] = byte(indexOf(ModelIDs(), id))
		for i, r := range regs {
			binary.BigEndian.PutUint16(raw[1+2*i:], r)
		}
		f.Add(raw)
	}
	f.Add([]byte{12, 0, 160, 0, 3, 0xFF, 0xFF})
	ids := ModelIDs()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		def, _ := Model(ids[int(data[0])%len(ids)])
		regs := bytesToRegs(data[1:])
		if len(regs) >= 2 && data[0]&0x80 == 0 {
			// Usually keep the header right so the fuzzer explores the body.
			regs[0], regs[1] = def.ID, uint16(len(regs)-2)
		}
		b, err := Decode(def, 40002, regs)
		if err != nil {
			return
		}
		for _, v := range b.Points {
			if v.Valid && !v.Def.Type.IsText() && (v.Number != v.Number) {
				t.Fatalf("model %d %s: valid NaN", def.ID, v.Path)
			}
			// A fixed-length block the device ended early is padded with "not implemented"
			// (see fillOptionalTail): a point beyond what the device sent exists but is never valid.
			if v.Valid && int(v.Addr)-40002+v.Def.Size > len(regs) {
				t.Fatalf("model %d %s at %d beyond %d registers is valid", def.ID, v.Path, v.Addr, len(regs))
			}
		}
	})
}

func indexOf(ids []uint16, id uint16) int {
	for i, x := range ids {
		if x == id {
			return i
		}
	}
	return 0
}

// flatBank serves arbitrary registers from 40000 as a device with a garbled map would.
type flatBank []uint16

func (fb flatBank) ReadHoldingRegisters(_ context.Context, addr, n uint16) ([]uint16, error) {
	lo := int(addr) - 40000
	if lo < 0 || lo+int(n) > len(fb) {
		return nil, ErrIllegalAddress
	}
	return fb[lo : lo+int(n)], nil
}

func (fb flatBank) WriteMultipleRegisters(context.Context, uint16, []uint16) error {
	return ErrReadOnly
}

// FuzzDiscoverAndRead walks an arbitrary model chain after a "SunS" marker and decodes what it finds:
// the walk must end (end marker, error or the model limit) and never panic.
func FuzzDiscoverAndRead(f *testing.F) {
	m := hybridMap(f)
	regs, _ := m.ReadRegisters(40000, uint16(m.Len()))
	raw := make([]byte, 2*len(regs))
	for i, r := range regs {
		binary.BigEndian.PutUint16(raw[2*i:], r)
	}
	f.Add(raw[4:])
	f.Add([]byte{0, 1, 0, 0, 0xFF, 0xFF})
	f.Add([]byte{0, 103, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		bank := append(flatBank{Marker[0], Marker[1]}, bytesToRegs(data)...)
		ctx := context.Background()
		_, hs, _ := Discover(ctx, bank)
		if len(hs) > maxModels {
			t.Fatalf("%d models", len(hs))
		}
		for _, h := range hs {
			if _, ok := Model(h.ID); ok {
				_, _ = ReadModel(ctx, bank, h)
			}
		}
	})
}
