package mesh

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// A node given a replay file keeps its replay windows there, so that an envelope it delivered before
// a restart is a replay after it too. The file is rewritten whole (to a temporary file, synced, then
// renamed over the old one, so a crash leaves the old or the new, never half) every
// ReplayFlushEvery while windows changed, and once more when the node closes. After a clean
// shutdown nothing it delivered can be delivered again; after a crash or power cut, what it
// delivered in the last ReplayFlushEvery before it can (consumers stay idempotent for that).
//
// Layout: replayMagic, the save time (Unix ms, 8 bytes), the record count (4 bytes), the records
// (author 20, destination 20, highest sequence 8, bitmap 32, last use in Unix ms 8 bytes, all
// big-endian), and a CRC-32 (IEEE) of everything before it.
const (
	replayMagic      = "FRACTALS-mesh-replay/1\n"
	replayRecordSize = 20 + 20 + 8 + windowBits/8 + 8
	replayHeaderSize = len(replayMagic) + 8 + 4
	// maxReplayRecords bounds what a file may claim, far above MaxStreams' default (1<<16).
	maxReplayRecords = 1 << 20
	// DefaultReplayFlushEvery is how often a node rewrites its replay file while windows change.
	DefaultReplayFlushEvery = 5 * time.Second
)

// ErrReplayFile is wrapped by every error about the content of a replay file.
var ErrReplayFile = errors.New("mesh: replay file")

// windowRecord is one stream's window as the file keeps it.
type windowRecord struct {
	key streamKey
	w   window
}

// encodeWindows returns the file's bytes.
func encodeWindows(recs []windowRecord, saved time.Time) []byte {
	b := make([]byte, 0, replayHeaderSize+len(recs)*replayRecordSize+4)
	b = append(b, replayMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(saved.UnixMilli()))
	b = binary.BigEndian.AppendUint32(b, uint32(len(recs)))
	for _, r := range recs {
		b = append(b, r.key.author[:]...)
		b = append(b, r.key.to[:]...)
		b = binary.BigEndian.AppendUint64(b, r.w.highest)
		for _, word := range r.w.bits {
			b = binary.BigEndian.AppendUint64(b, word)
		}
		b = binary.BigEndian.AppendUint64(b, uint64(r.w.lastUsed))
	}
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// decodeWindows parses a replay file, refusing anything that is not exactly one.
func decodeWindows(b []byte) (recs []windowRecord, saved time.Time, err error) {
	if len(b) < replayHeaderSize+4 || string(b[:len(replayMagic)]) != replayMagic {
		return nil, time.Time{}, fmt.Errorf("%w: %d bytes, not one (no %q header)", ErrReplayFile, len(b), replayMagic[:len(replayMagic)-1])
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if got := crc32.ChecksumIEEE(body); got != sum {
		return nil, time.Time{}, fmt.Errorf("%w: checksum %08x, content sums to %08x", ErrReplayFile, sum, got)
	}
	saved = time.UnixMilli(int64(binary.BigEndian.Uint64(b[len(replayMagic):])))
	n := binary.BigEndian.Uint32(b[len(replayMagic)+8:])
	if n > maxReplayRecords {
		return nil, time.Time{}, fmt.Errorf("%w: %d records, at most %d", ErrReplayFile, n, maxReplayRecords)
	}
	if want := replayHeaderSize + int(n)*replayRecordSize; len(body) != want {
		return nil, time.Time{}, fmt.Errorf("%w: %d records need %d bytes before the checksum, file has %d", ErrReplayFile, n, want, len(body))
	}
	recs = make([]windowRecord, n)
	at := replayHeaderSize
	for i := range recs {
		r := &recs[i]
		at += copy(r.key.author[:], body[at:])
		at += copy(r.key.to[:], body[at:])
		r.w.highest = binary.BigEndian.Uint64(body[at:])
		at += 8
		for j := range r.w.bits {
			r.w.bits[j] = binary.BigEndian.Uint64(body[at:])
			at += 8
		}
		r.w.lastUsed = int64(binary.BigEndian.Uint64(body[at:]))
		at += 8
		r.w.started = true
	}
	return recs, saved, nil
}

// writeFileAtomic replaces path by b: written to a temporary file in the same directory, synced,
// renamed over path, and the directory synced.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // not every file system syncs directories; the rename is done either way
		d.Close()
	}
	return nil
}

// exportWindows returns the windows that can still refuse something: those used within MaxTTL
// (an older one holds only expired envelopes). It clears the changed mark.
func (r *router) exportWindows() []windowRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	idle := r.clk.Now().Add(-r.opt.MaxTTL).UnixMilli()
	out := make([]windowRecord, 0, len(r.windows))
	for k, w := range r.windows {
		if w.lastUsed >= idle {
			out = append(out, windowRecord{k, *w})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].w.lastUsed > out[j].w.lastUsed })
	r.windowsChanged = false
	return out
}

// importWindows restores saved windows into a router that has delivered nothing yet: those still
// useful, the most recently used first, as many as MaxStreams allows.
func (r *router) importWindows(recs []windowRecord) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	idle := r.clk.Now().Add(-r.opt.MaxTTL).UnixMilli()
	sort.Slice(recs, func(i, j int) bool { return recs[i].w.lastUsed > recs[j].w.lastUsed })
	n := 0
	for _, rec := range recs {
		if len(r.windows) >= r.opt.MaxStreams {
			break
		}
		if rec.w.lastUsed < idle || rec.key.author == r.self {
			continue
		}
		w := rec.w
		r.windows[rec.key] = &w
		n++
	}
	return n
}

// windowsDirty reports whether a window changed since the last export.
func (r *router) windowsDirty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.windowsChanged
}
