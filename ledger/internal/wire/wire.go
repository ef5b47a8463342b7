package wire

import (
	"encoding/binary"
	"fmt"
)

// Writer appends fields to a buffer.
type Writer struct{ Buf []byte }

// U8 appends one byte.
func (w *Writer) U8(v uint8) { w.Buf = append(w.Buf, v) }

// U64 appends a big-endian 64-bit integer.
func (w *Writer) U64(v uint64) { w.Buf = binary.BigEndian.AppendUint64(w.Buf, v) }

// Bytes appends raw bytes.
func (w *Writer) Bytes(b []byte) { w.Buf = append(w.Buf, b...) }

// Reader consumes fields from a buffer; the first error sticks and later reads return zeros.
type Reader struct {
	buf []byte
	off int
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

// Err is the first error met.
func (r *Reader) Err() error { return r.err }

func (r *Reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.buf)-r.off < n {
		r.err = fmt.Errorf("%s at offset %d: need %d bytes, have %d", field, r.off, n, len(r.buf)-r.off)
		return nil
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b
}

// U8 reads one byte.
func (r *Reader) U8(field string) uint8 {
	b := r.take(1, field)
	if b == nil {
		return 0
	}
	return b[0]
}

// U64 reads a big-endian 64-bit integer.
func (r *Reader) U64(field string) uint64 {
	b := r.take(8, field)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// Fixed copies len(dst) bytes into dst.
func (r *Reader) Fixed(dst []byte, field string) {
	if b := r.take(len(dst), field); b != nil {
		copy(dst, b)
	}
}

// Count reads a one-byte element count and refuses more than max.
func (r *Reader) Count(max int, field string) int {
	at := r.off
	n := int(r.U8(field))
	if r.err == nil && n > max {
		r.err = fmt.Errorf("%s at offset %d: %d elements, at most %d", field, at, n, max)
	}
	if r.err != nil {
		return 0
	}
	return n
}

// Len is how many bytes are left to read.
func (r *Reader) Len() int { return len(r.buf) - r.off }

// Fail records an error about the field just read (if none is recorded yet).
func (r *Reader) Fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format+" (before offset %d)", append(args, r.off)...)
	}
}

// End fails unless every byte was consumed.
func (r *Reader) End(what string) error {
	if r.err == nil && r.off != len(r.buf) {
		r.err = fmt.Errorf("%s: %d trailing bytes at offset %d", what, len(r.buf)-r.off, r.off)
	}
	return r.err
}
