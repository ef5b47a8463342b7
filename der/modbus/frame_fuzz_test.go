package modbus

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzReadFrame feeds arbitrary bytes to the server relay's Modbus TCP frame reader: it never
// panics, and a frame it returns is exactly the MBAP header's length (2..254) past the header.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2})
	f.Add([]byte{0, 1, 0, 0, 0, 0})
	f.Add([]byte{0, 1, 0, 0, 0xFF, 0xFF, 1})
	f.Add([]byte{0, 1, 0, 0, 0, 6, 1, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			frame, err := readFrame(r)
			if err != nil {
				return
			}
			n := int(binary.BigEndian.Uint16(frame[4:6]))
			if n < 2 || n > 254 || len(frame) != 6+n {
				t.Fatalf("frame of %d bytes with length field %d", len(frame), n)
			}
		}
	})
}
