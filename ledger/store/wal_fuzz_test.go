package store

import (
	"bytes"
	"testing"
)

// FuzzDecodeOps: the write-ahead log's record decoder never panics on what a torn or corrupted log
// holds, and what it accepts encodes back to the same bytes (nothing is read that was not there).
func FuzzDecodeOps(f *testing.F) {
	f.Add(encodeRecord(7, []op{{kind: opPut, bucket: bMeta, key: []byte("k"), value: []byte("v")}})[8:])
	f.Add(encodeRecord(1, []op{{kind: opDelete, bucket: bMeta, key: []byte("gone")}})[8:])
	f.Add(encodeRecord(2, nil)[8:])
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, opPut, 0, 0xff, 0xff})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, payload []byte) {
		seq, ops, err := decodeOps(payload)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error that says nothing")
			}
			return
		}
		if again := encodeRecord(seq, ops)[8:]; !bytes.Equal(again, payload) {
			t.Fatalf("decoded %d ops of seq %d that encode to %x, not the %x read", len(ops), seq, again, payload)
		}
	})
}
