package regmap

import (
	"errors"
	"fmt"
	"sync"
)

// ErrIllegalAddress is returned by a Bank for registers no point or set-point of its map covers;
// a Modbus server answers it with exception 2, as real devices do.
var ErrIllegalAddress = errors.New("regmap: illegal data address")

// Bank is the server side of a Map: the registers a device with that map would serve, for the HIL
// rig's emulators and for tests. Only registers of the map's points and set-points exist; writes
// reach set-point registers only. It is safe for concurrent use.
type Bank struct {
	m        *Map
	mu       sync.Mutex
	regs     map[uint16]uint16
	writable map[uint16]bool
}

// NewBank makes a bank for m with every register zero.
func NewBank(m *Map) (*Bank, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b := &Bank{m: m, regs: map[uint16]uint16{}, writable: map[uint16]bool{}}
	for i := range m.Points {
		r := &m.Points[i]
		for k := 0; k < r.Size(); k++ {
			b.regs[r.Address+uint16(k)] = 0
		}
		if sb := r.SignBit; sb != nil {
			b.regs[sb.Address] = 0
		}
	}
	for i := range m.Setpoints {
		s := &m.Setpoints[i]
		for k := 0; k < s.Size(); k++ {
			b.regs[s.Address+uint16(k)], b.writable[s.Address+uint16(k)] = 0, true
		}
		if d := s.Direction; d != nil {
			b.regs[d.Address], b.writable[d.Address] = d.Zero, true
		}
	}
	return b, nil
}

// Set stores v (engineering units) in the registers of point, as the device would publish it.
func (b *Bank) Set(point string, v float64) error {
	for i := range b.m.Points {
		r := &b.m.Points[i]
		if r.Point != point {
			continue
		}
		negative := r.SignBit != nil && v < 0
		if negative {
			v = -v
		}
		regs, err := rawFor(r, v)
		if err != nil {
			return err
		}
		b.mu.Lock()
		if sb := r.SignBit; sb != nil {
			b.regs[sb.Address] &^= 1 << sb.Bit
			if negative {
				b.regs[sb.Address] |= 1 << sb.Bit
			}
		}
		for k, w := range regs {
			b.regs[r.Address+uint16(k)] = w
		}
		b.mu.Unlock()
		return nil
	}
	return fmt.Errorf("regmap: bank has no point %s", point)
}

// rawFor encodes v for a read point the way Encode does for a set-point, without limits.
func rawFor(r *Register, v float64) ([]uint16, error) {
	s := Setpoint{Register: *r, Min: -1e300, Max: 1e300}
	s.Bit, s.Bits = nil, 0
	regs, _, err := Encode(&s, v)
	return regs, err
}

// ReadRegisters serves n registers from addr.
func (b *Bank) ReadRegisters(addr, n uint16) ([]uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]uint16, n)
	for k := range out {
		v, ok := b.regs[addr+uint16(k)]
		if !ok {
			return nil, fmt.Errorf("register %d: %w", addr+uint16(k), ErrIllegalAddress)
		}
		out[k] = v
	}
	return out, nil
}

// WriteRegisters stores vals from addr, if every register is a set-point's.
func (b *Bank) WriteRegisters(addr uint16, vals []uint16) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range vals {
		if !b.writable[addr+uint16(k)] {
			return fmt.Errorf("register %d is not writable: %w", addr+uint16(k), ErrIllegalAddress)
		}
	}
	for k, v := range vals {
		b.regs[addr+uint16(k)] = v
	}
	return nil
}

// SetText stores s in the registers of a string point, two bytes a register, padded with zeros.
func (b *Bank) SetText(point, s string) error {
	for i := range b.m.Points {
		r := &b.m.Points[i]
		if r.Point != point || r.Type != Str {
			continue
		}
		if len(s) > 2*r.Words {
			return fmt.Errorf("regmap: %q longer than the %d registers of %s", s, r.Words, point)
		}
		padded := make([]byte, 2*r.Words)
		copy(padded, s)
		b.mu.Lock()
		for k := 0; k < r.Words; k++ {
			b.regs[r.Address+uint16(k)] = uint16(padded[2*k])<<8 | uint16(padded[2*k+1])
		}
		b.mu.Unlock()
		return nil
	}
	return fmt.Errorf("regmap: bank has no string point %s", point)
}
