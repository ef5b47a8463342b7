package store

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's file starts with two meta pages; the newer valid one names the file's high-water page.
// A file cut short (a torn copy, a full disk during a restore) is shorter than that page, and
// bbolt would map the missing part and die of SIGBUS on the first read of it, which no recover
// catches. checkTorn reads the metas itself first and refuses such a file.
const (
	boltMagic     = 0xED0CDAED
	pageHeaderLen = 16
	metaLen       = 64 // up to and including the checksum
)

type boltMeta struct {
	pageSize uint32
	highPage uint64
	txid     uint64
}

// readMeta decodes the meta at offset, reporting whether it is valid (magic and checksum).
func readMeta(f *os.File, offset int64) (boltMeta, bool) {
	buf := make([]byte, pageHeaderLen+metaLen)
	if _, err := f.ReadAt(buf, offset); err != nil {
		return boltMeta{}, false
	}
	m := buf[pageHeaderLen:]
	if binary.LittleEndian.Uint32(m[0:]) != boltMagic {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != binary.LittleEndian.Uint64(m[56:]) {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: binary.LittleEndian.Uint32(m[8:]), highPage: binary.LittleEndian.Uint64(m[40:]), txid: binary.LittleEndian.Uint64(m[48:])}, true
}

// checkTorn refuses an existing file whose newest valid meta page needs more bytes than the file
// has, or that has no valid meta page at all. A missing or empty file passes (bbolt creates it).
func checkTorn(path string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store %s: %w", path, err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil || size == 0 {
		return err
	}
	first, ok0 := readMeta(f, 0)
	if !ok0 {
		return fmt.Errorf("store %s: corrupted: the first meta page is not valid (not a bbolt file, or its header is overwritten)", path)
	}
	newest := first
	if second, ok1 := readMeta(f, int64(first.pageSize)); ok1 && second.txid > first.txid {
		newest = second
	}
	if need := int64(newest.highPage) * int64(newest.pageSize); need > size {
		return fmt.Errorf("store %s: torn: %d bytes, but its meta page (transaction %d) needs %d", path, size, newest.txid, need)
	}
	return nil
}
