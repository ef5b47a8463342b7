package sunspec

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/fractals-energy/fractals/der/modbus"
)

// Registers is a Modbus unit as the SunSpec client sees it: holding registers to read and write.
// der/modbus provides it over TCP and RTU; a Map provides it directly.
type Registers interface {
	ReadHoldingRegisters(ctx context.Context, addr, n uint16) ([]uint16, error)
	WriteMultipleRegisters(ctx context.Context, addr uint16, vals []uint16) error
}

// BaseAddresses are where a SunSpec map may start, tried in this order.
var BaseAddresses = []uint16{40000, 0, 50000}

// maxReadRegisters is the most registers one Modbus read returns.
const maxReadRegisters = 125

// maxModels bounds the chain walk so that a device that never sends the end marker cannot keep
// the client walking.
const maxModels = 256

// Header is one model found on a device.
type Header struct {
	ID     uint16
	Addr   uint16 // address of its ID register
	Length uint16 // L
}

// prober is a Registers with a failure back-off (der/modbus.Unit): discovery probes it without
// letting one probe's timeout cut off the next ones, and reports the round as one outcome.
type prober interface {
	Ready(ctx context.Context) error
	Probe(ctx context.Context, addr, n uint16) ([]uint16, error)
	NoteProbes(err error)
}

// Discover finds the "SunS" marker and walks the model chain to the end marker. A device that does
// not answer at one base address (a timeout) is still asked at the others; it goes into back-off
// only when none of them answered.
func Discover(ctx context.Context, r Registers) (base uint16, models []Header, err error) {
	var errs []error
	found, answered := false, false // answered: some probe got a reply, if not the marker
	read := r.ReadHoldingRegisters
	p, probing := r.(prober)
	if probing {
		if err := p.Ready(ctx); err != nil {
			return 0, nil, fmt.Errorf("sunspec: no SunS marker: %w", err)
		}
		read = p.Probe
	}
	for _, b := range BaseAddresses {
		regs, err := read(ctx, b, 2)
		if err != nil {
			if ctx.Err() != nil {
				return 0, nil, ctx.Err()
			}
			answered = answered || modbus.IsException(err)
			errs = append(errs, fmt.Errorf("at %d: %w", b, err))
			continue
		}
		answered = true
		if len(regs) == 2 && regs[0] == Marker[0] && regs[1] == Marker[1] {
			base, found = b, true
			break
		}
		errs = append(errs, fmt.Errorf("at %d: %04x %04x is not \"SunS\"", b, regs[0], regs[1]))
	}
	if !found {
		err := errors.Join(errs...)
		if probing && answered {
			p.NoteProbes(nil) // the device is there, its map is not where SunSpec puts it
		} else if probing {
			p.NoteProbes(err)
		}
		return 0, nil, fmt.Errorf("sunspec: no SunS marker: %w", err)
	}
	if probing {
		p.NoteProbes(nil)
	}
	addr := int(base) + 2
	for len(models) < maxModels {
		if addr+2 > math.MaxUint16+1 {
			return base, models, fmt.Errorf("sunspec: model chain runs past register 65535 without the end marker")
		}
		hdr, err := r.ReadHoldingRegisters(ctx, uint16(addr), 2)
		if err != nil {
			return base, models, fmt.Errorf("sunspec: reading model header at %d: %w", addr, err)
		}
		if len(hdr) != 2 {
			return base, models, fmt.Errorf("sunspec: model header at %d: %d registers, want 2", addr, len(hdr))
		}
		if hdr[0] == EndMarker {
			return base, models, nil
		}
		if hdr[0] == 0 {
			return base, models, fmt.Errorf("sunspec: model header at %d: ID 0 is not a model", addr)
		}
		// A length that differs from the definition is not the walk's business: L says where the
		// next model starts, whatever the model holds. Decoding the model judges whether the
		// device's length is acceptable (see Decode) and reports it for that model alone.
		models = append(models, Header{ID: hdr[0], Addr: uint16(addr), Length: hdr[1]})
		addr += 2 + int(hdr[1])
	}
	return base, models, fmt.Errorf("sunspec: more than %d models without the end marker", maxModels)
}

// ReadRegisters reads n registers from addr in as many requests as Modbus needs.
func ReadRegisters(ctx context.Context, r Registers, addr uint16, n int) ([]uint16, error) {
	if int(addr)+n > math.MaxUint16+1 {
		return nil, fmt.Errorf("sunspec: %d registers at %d run past register 65535", n, addr)
	}
	out := make([]uint16, 0, n)
	for len(out) < n {
		k := min(n-len(out), maxReadRegisters)
		a := uint16(int(addr) + len(out))
		regs, err := r.ReadHoldingRegisters(ctx, a, uint16(k))
		if err != nil {
			return nil, err
		}
		if len(regs) != k {
			return nil, fmt.Errorf("sunspec: read %d registers at %d, got %d", k, a, len(regs))
		}
		out = append(out, regs...)
	}
	return out, nil
}

// ReadModel reads and decodes one model found by Discover.
func ReadModel(ctx context.Context, r Registers, h Header) (*Block, error) {
	def, ok := Model(h.ID)
	if !ok {
		return nil, fmt.Errorf("sunspec: model %d at %d is not among the known models", h.ID, h.Addr)
	}
	regs, err := ReadRegisters(ctx, r, h.Addr, int(h.Length)+2)
	if err != nil {
		return nil, fmt.Errorf("sunspec: reading model %d at %d: %w", h.ID, h.Addr, err)
	}
	return Decode(def, h.Addr, regs)
}

// Set is one point to write: a number in the point's units, or Text for string points.
type Set struct {
	Path   string
	Value  float64
	Text   string
	IsText bool
	// Pulse marks a command register the device clears once it has acted on it (802 AlmRst):
	// it is written but not compared on read-back.
	Pulse bool
}

// ErrVerify is returned when a point read back after a write differs from what was written.
var ErrVerify = errors.New("sunspec: read-back differs from the written value")

// Write writes the points of one model instance in the order given, each as its own request
// (order matters: a value, then its revert timer, then its enable), then reads the model back and
// checks that every point holds what was written. Scale factors come from a fresh read of the
// model, so a device that changed its scale factor is written correctly.
func Write(ctx context.Context, r Registers, h Header, sets ...Set) error {
	b, err := ReadModel(ctx, r, h)
	if err != nil {
		return err
	}
	type planned struct {
		addr  uint16
		regs  []uint16
		path  string
		pulse bool
	}
	plan := make([]planned, 0, len(sets))
	for _, s := range sets {
		v, ok := b.Get(s.Path)
		if !ok {
			return fmt.Errorf("sunspec: model %d has no point %q", h.ID, s.Path)
		}
		if !v.Def.Writable {
			return fmt.Errorf("sunspec: model %d point %s is read-only", h.ID, s.Path)
		}
		var regs []uint16
		if s.IsText {
			regs, err = EncodeString(v.Def, s.Text)
		} else {
			var sf int16
			sf, err = blockScale(b, v)
			if err == nil {
				regs, err = EncodeNumber(v.Def, s.Value, sf)
			}
		}
		if err != nil {
			return fmt.Errorf("sunspec: model %d: %w", h.ID, err)
		}
		plan = append(plan, planned{v.Addr, regs, s.Path, s.Pulse})
	}
	end := int(h.Addr) + int(h.Length) + 2
	for _, p := range plan {
		if int(p.addr)+len(p.regs) > end {
			return fmt.Errorf("sunspec: model %d point %s: the device's model ends at %d (length %d), before the point", h.ID, p.path, end, h.Length)
		}
	}
	for _, p := range plan {
		if err := r.WriteMultipleRegisters(ctx, p.addr, p.regs); err != nil {
			return fmt.Errorf("sunspec: writing model %d point %s at %d: %w", h.ID, p.path, p.addr, err)
		}
	}
	back, err := ReadRegisters(ctx, r, h.Addr, int(h.Length)+2)
	if err != nil {
		return fmt.Errorf("sunspec: reading back model %d: %w", h.ID, err)
	}
	for _, p := range plan {
		if p.pulse {
			continue
		}
		off := int(p.addr) - int(h.Addr)
		for k, want := range p.regs {
			if got := back[off+k]; got != want {
				return fmt.Errorf("%w: model %d point %s register %d holds %#04x, wrote %#04x", ErrVerify, h.ID, p.path, int(p.addr)+k, got, want)
			}
		}
	}
	return nil
}

// blockScale finds the scale factor exponent for v in a decoded block.
func blockScale(b *Block, v Value) (int16, error) {
	if v.Def.SF == "" || !scalable(v.Def.Type) {
		return 0, nil
	}
	prefix := v.Path[:len(v.Path)-len(v.Def.Name)]
	for {
		if sf, ok := b.Get(prefix + v.Def.SF); ok {
			if !sf.Valid {
				return 0, fmt.Errorf("point %s: scale factor %s is not implemented", v.Path, v.Def.SF)
			}
			return int16(sf.Bits), nil
		}
		if prefix == "" {
			return 0, fmt.Errorf("point %s: no scale factor %s", v.Path, v.Def.SF)
		}
		prefix = outerPrefix(prefix)
	}
}
