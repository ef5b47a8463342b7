package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// The write-ahead log in front of the bbolt file. A bbolt commit costs two fdatasyncs (pages,
// then the meta page) plus the page writes; a log append costs one. So Commit appends the batch
// to <path>.wal and fdatasyncs once; reads see the logged batches through an in-memory overlay;
// a checkpoint writes them into bbolt in one transaction, in the background once the log passes
// walCheckpointBytes (the log is rotated to <path>.wal.old meanwhile), and at Open and Close.
//
// A record is: payload length (4 bytes), CRC-32C of the payload (4), payload = sequence number
// (8) then the operations. A crash can leave only the last record partly written: a bad record
// at the very end of the newest log is cut off (it was never acknowledged), a bad record with
// good bytes after it is corruption and refused.

// walCheckpointBytes is a variable so tests can make checkpoints frequent.
var walCheckpointBytes int64 = 4 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

const (
	opPut    = 1
	opDelete = 2
)

// op is one key write of a batch.
type op struct {
	kind   byte
	bucket byte // index into buckets
	key    []byte
	value  []byte
}

var buckets = [][]byte{bucketChannels, bucketPayments, bucketPending, bucketMeta}

const (
	bChannels = iota
	bPayments
	bPending
	bMeta
	bucketCount
)

// metaWALSeq is where bbolt records the last log sequence number a checkpoint applied.
const metaWALSeq = "wal/seq"

// ops turns a batch into key writes, in the order Commit has always applied them.
func (b *Batch) ops() []op {
	var out []op
	for _, id := range b.DeleteChannels {
		out = append(out, op{kind: opDelete, bucket: bChannels, key: append([]byte(nil), id[:]...)})
	}
	for _, c := range b.Channels {
		out = append(out, op{kind: opPut, bucket: bChannels, key: append([]byte(nil), c.ID[:]...), value: c.State})
	}
	for _, p := range b.Payments {
		v := make([]byte, 16)
		binary.BigEndian.PutUint64(v[:8], p.Nonce)
		binary.BigEndian.PutUint64(v[8:], p.Amount)
		out = append(out, op{kind: opPut, bucket: bPayments, key: paymentKey(p.Partner, p.ID), value: v})
	}
	for _, a := range b.Pending {
		out = append(out, op{kind: opPut, bucket: bPending, key: []byte(a.Key), value: a.Data})
	}
	for _, k := range b.DonePending {
		out = append(out, op{kind: opDelete, bucket: bPending, key: []byte(k)})
	}
	for _, kv := range b.Meta {
		if kv.Value == nil {
			out = append(out, op{kind: opDelete, bucket: bMeta, key: []byte(kv.Key)})
			continue
		}
		out = append(out, op{kind: opPut, bucket: bMeta, key: []byte(kv.Key), value: kv.Value})
	}
	return out
}

func encodeRecord(seq uint64, ops []op) []byte {
	size := 8
	for _, o := range ops {
		size += 1 + 1 + 2 + len(o.key) + 4 + len(o.value)
	}
	buf := make([]byte, 8, 8+size)
	buf = binary.BigEndian.AppendUint64(buf, seq)
	for _, o := range ops {
		buf = append(buf, o.kind, o.bucket)
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(o.key)))
		buf = append(buf, o.key...)
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(o.value)))
		buf = append(buf, o.value...)
	}
	binary.BigEndian.PutUint32(buf[0:], uint32(len(buf)-8))
	binary.BigEndian.PutUint32(buf[4:], crc32.Checksum(buf[8:], crcTable))
	return buf
}

func decodeOps(p []byte) (seq uint64, ops []op, err error) {
	if len(p) < 8 {
		return 0, nil, fmt.Errorf("record of %d bytes, want at least 8", len(p))
	}
	seq, p = binary.BigEndian.Uint64(p), p[8:]
	for off := 0; len(p) > 0; off++ {
		if len(p) < 4 {
			return 0, nil, fmt.Errorf("operation %d: %d bytes left, want a header", off, len(p))
		}
		o := op{kind: p[0], bucket: p[1]}
		if (o.kind != opPut && o.kind != opDelete) || int(o.bucket) >= len(buckets) {
			return 0, nil, fmt.Errorf("operation %d: kind %d bucket %d", off, o.kind, o.bucket)
		}
		kl := int(binary.BigEndian.Uint16(p[2:]))
		p = p[4:]
		if len(p) < kl+4 {
			return 0, nil, fmt.Errorf("operation %d: key of %d bytes, %d left", off, kl, len(p))
		}
		o.key, p = p[:kl], p[kl:]
		vl := int(binary.BigEndian.Uint32(p))
		p = p[4:]
		if len(p) < vl {
			return 0, nil, fmt.Errorf("operation %d: value of %d bytes, %d left", off, vl, len(p))
		}
		o.value, p = p[:vl], p[vl:]
		ops = append(ops, o)
	}
	return seq, ops, nil
}

// walRecord is one decoded log record.
type walRecord struct {
	seq uint64
	ops []op
}

// readWAL reads every record of one log file. tail says the file is the newest log, where a bad
// last record is a torn append (cut off, goodLen says where); anywhere else it is corruption.
func readWAL(path string, tail bool) (recs []walRecord, goodLen int64, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	off := 0
	for off < len(b) {
		bad := ""
		var payload []byte
		switch {
		case len(b)-off < 8:
			bad = "a record header cut short"
		default:
			n := int(binary.BigEndian.Uint32(b[off:]))
			if n > len(b)-off-8 {
				bad = fmt.Sprintf("a record of %d bytes with %d left", n, len(b)-off-8)
				break
			}
			payload = b[off+8 : off+8+n]
			if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(b[off+4:]) {
				bad = "a record whose checksum does not match"
				if off+8+n < len(b) {
					return nil, 0, fmt.Errorf("log %s: corrupted: %s at byte %d, with %d bytes after it", path, bad, off, len(b)-off-8-n)
				}
			}
		}
		if bad != "" {
			if !tail {
				return nil, 0, fmt.Errorf("log %s: corrupted: %s at byte %d", path, bad, off)
			}
			return recs, int64(off), nil // a torn append: never acknowledged
		}
		seq, ops, err := decodeOps(payload)
		if err != nil {
			return nil, 0, fmt.Errorf("log %s: corrupted record at byte %d: %w", path, off, err)
		}
		recs = append(recs, walRecord{seq: seq, ops: ops})
		off += 8 + len(payload)
	}
	return recs, int64(off), nil
}

// overlayEntry is the newest logged write of a key not yet checkpointed into bbolt.
type overlayEntry struct {
	value   []byte
	deleted bool
	seq     uint64
}

// wal is the log state of a writable store (nil for a read-only one, whose overlay is fixed).
type wal struct {
	path string
	f    *os.File
	size int64
	seq  uint64
	// logged are the records since the last checkpoint began, oldest first.
	logged []walRecord
	// checkpoint is closed when the background checkpoint finishes (nil: none running); its
	// result is ckErr.
	checkpoint chan struct{}
	ckErr      error
}

// overlay holds the logged writes readers must see before bbolt has them.
type overlay struct {
	mu sync.RWMutex
	m  [bucketCount]map[string]overlayEntry
}

func newOverlay() *overlay {
	o := &overlay{}
	for i := range o.m {
		o.m[i] = map[string]overlayEntry{}
	}
	return o
}

func (o *overlay) apply(seq uint64, ops []op) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, x := range ops {
		o.m[x.bucket][string(x.key)] = overlayEntry{value: x.value, deleted: x.kind == opDelete, seq: seq}
	}
}

// forget drops the entries a checkpoint up to seq wrote into bbolt (newer writes stay).
func (o *overlay) forget(seq uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range o.m {
		for k, e := range m {
			if e.seq <= seq {
				delete(m, k)
			}
		}
	}
}

func (o *overlay) get(bucket int, key []byte) (overlayEntry, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	e, ok := o.m[bucket][string(key)]
	return e, ok
}

// merged returns the bucket's keys and values as bbolt holds them with the overlay on top,
// sorted by key, restricted to keys starting with prefix.
//
// The overlay is read first: a checkpoint drops entries only after bbolt holds them, so a key
// missing from the overlay snapshot is current in bbolt, and one present is at least as new.
func (s *Store) merged(bucket int, prefix string) ([]KV, error) {
	top := map[string]overlayEntry{}
	s.ov.mu.RLock()
	for k, e := range s.ov.m[bucket] {
		if strings.HasPrefix(k, prefix) {
			top[k] = e
		}
	}
	s.ov.mu.RUnlock()
	vals := map[string][]byte{}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(buckets[bucket]).Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
			vals[string(k)] = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k, e := range top {
		if e.deleted {
			delete(vals, k)
		} else {
			vals[k] = append([]byte(nil), e.value...)
		}
	}
	out := make([]KV, 0, len(vals))
	for k, v := range vals {
		out = append(out, KV{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// applyToBolt writes records into bbolt in one transaction and records the last sequence number.
func applyToBolt(db *bolt.DB, recs []walRecord) error {
	if len(recs) == 0 {
		return nil
	}
	return db.Update(func(tx *bolt.Tx) error {
		var applied uint64
		if v := tx.Bucket(bucketMeta).Get([]byte(metaWALSeq)); len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		last := applied
		for _, r := range recs {
			if r.seq <= applied {
				continue // an earlier checkpoint wrote it before the crash
			}
			for _, o := range r.ops {
				b := tx.Bucket(buckets[o.bucket])
				var err error
				if o.kind == opDelete {
					err = b.Delete(o.key)
				} else {
					err = b.Put(o.key, o.value)
				}
				if err != nil {
					return fmt.Errorf("checkpoint record %d: %s %x: %w", r.seq, buckets[o.bucket], o.key, err)
				}
			}
			last = r.seq
		}
		return tx.Bucket(bucketMeta).Put([]byte(metaWALSeq), binary.BigEndian.AppendUint64(nil, last))
	})
}

func walPaths(path string) (current, old string) { return path + ".wal", path + ".wal.old" }

// readLogs reads the rotated log then the current one.
func readLogs(path string) (recs []walRecord, currentLen int64, err error) {
	cur, old := walPaths(path)
	oldRecs, _, err := readWAL(old, false)
	if err != nil {
		return nil, 0, err
	}
	curRecs, n, err := readWAL(cur, true)
	if err != nil {
		return nil, 0, err
	}
	return append(oldRecs, curRecs...), n, nil
}

// recoverWAL writes what the logs hold into bbolt and removes them, at Open.
func recoverWAL(db *bolt.DB, path string) (uint64, error) {
	recs, _, err := readLogs(path)
	if err != nil {
		return 0, err
	}
	if err := applyToBolt(db, recs); err != nil {
		return 0, err
	}
	var seq uint64
	err = db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get([]byte(metaWALSeq)); len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	cur, old := walPaths(path)
	for _, p := range []string{old, cur} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
	}
	return seq, syncDir(filepath.Dir(path))
}

func openLog(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// logBatch appends one record and fdatasyncs it: when it returns nil the batch is durable.
func (s *Store) logBatch(ops []op) error {
	w := s.wal
	if w.checkpoint != nil {
		select {
		case <-w.checkpoint:
			if err := s.finishCheckpoint(); err != nil {
				return err
			}
		default:
		}
	}
	rec := encodeRecord(w.seq+1, ops)
	// The overlay keeps the record's own bytes, never the caller's slices.
	_, ops, err := decodeOps(rec[8:])
	if err != nil {
		return err
	}
	if _, err := w.f.Write(rec); err != nil {
		// A partial append is cut off at the next open; this batch is not durable.
		return fmt.Errorf("append to %s: %w", w.path, err)
	}
	if err := fdatasync(w.f); err != nil {
		return fmt.Errorf("sync %s: %w", w.path, err)
	}
	w.seq++
	w.size += int64(len(rec))
	w.logged = append(w.logged, walRecord{seq: w.seq, ops: ops})
	s.ov.apply(w.seq, ops)
	if w.size >= walCheckpointBytes && w.checkpoint == nil {
		return s.startCheckpoint()
	}
	return nil
}

func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// startCheckpoint rotates the log and writes the rotated records into bbolt in the background.
func (s *Store) startCheckpoint() error {
	w := s.wal
	cur, old := walPaths(s.path)
	if err := w.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(cur, old); err != nil {
		return fmt.Errorf("rotate %s: %w", cur, err)
	}
	f, err := openLog(cur)
	if err != nil {
		return fmt.Errorf("rotate %s: %w", cur, err)
	}
	if err := syncDir(filepath.Dir(cur)); err != nil {
		f.Close()
		return fmt.Errorf("rotate %s: %w", cur, err)
	}
	w.f, w.size = f, 0
	recs := w.logged
	w.logged = nil
	done := make(chan struct{})
	w.checkpoint = done
	go func() {
		defer close(done)
		if err := applyToBolt(s.db, recs); err != nil {
			w.ckErr = err
			return
		}
		s.ov.forget(recs[len(recs)-1].seq)
		if err := os.Remove(old); err != nil {
			w.ckErr = err
		}
	}()
	return nil
}

// finishCheckpoint collects a finished background checkpoint's result.
func (s *Store) finishCheckpoint() error {
	w := s.wal
	<-w.checkpoint
	w.checkpoint = nil
	if err := w.ckErr; err != nil {
		return fmt.Errorf("checkpoint of %s into %s: %w", w.path, s.path, err)
	}
	return nil
}

// closeWAL finishes any checkpoint, writes the rest of the log into bbolt and removes it.
func (s *Store) closeWAL() error {
	w := s.wal
	var first error
	if w.checkpoint != nil {
		first = s.finishCheckpoint()
	}
	if err := w.f.Close(); err != nil && first == nil {
		first = err
	}
	if first != nil {
		return first // the logs stay for the next Open to replay
	}
	if err := applyToBolt(s.db, w.logged); err != nil {
		return err
	}
	cur, _ := walPaths(s.path)
	if err := os.Remove(cur); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// loadOverlay fills a read-only store's overlay from the logs, leaving the files untouched.
func (s *Store) loadOverlay() error {
	recs, _, err := readLogs(s.path)
	if err != nil {
		return err
	}
	var applied uint64
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get([]byte(metaWALSeq)); len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.seq > applied {
			s.ov.apply(r.seq, r.ops)
		}
	}
	return nil
}
