package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/fractals-energy/fractals/ledger/channel"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketChannels = []byte("channels")
	bucketPayments = []byte("payments")
	bucketPending  = []byte("pending")
	bucketMeta     = []byte("meta")
)

// Store is an open ledger database: the bbolt file and its write-ahead log (wal.go).
type Store struct {
	db   *bolt.DB
	path string
	// wal is nil for a read-only store.
	wal *wal
	ov  *overlay
}

// Open opens (creating if needed) the database at path.
// A torn or corrupted file is refused with an error naming it (every page is checked).
func Open(path string) (*Store, error) {
	if err := checkTorn(path); err != nil {
		return nil, err
	}
	// Opening rebuilds the free list by walking the pages: guard turns a garbage page into an error.
	var db *bolt.DB
	err := guard(func() (err error) {
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	err = guard(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketChannels, bucketPayments, bucketPending, bucketMeta} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: create buckets: %w", path, err)
	}
	st := &Store{db: db, path: path, ov: newOverlay()}
	if err := st.Check(); err != nil {
		db.Close()
		return nil, err
	}
	seq, err := recoverWAL(db, path)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: replay the log: %w", path, err)
	}
	cur, _ := walPaths(path)
	f, err := openLog(cur)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	st.wal = &wal{path: cur, f: f, seq: seq}
	return st, nil
}

// Durable reports whether a commit is on disk when it returns (the log is fdatasynced on every
// commit, and bbolt's checkpoints sync unless in NoSync mode).
func (s *Store) Durable() bool { return s.wal != nil && !s.db.NoSync }

// Close writes the log into bbolt and closes the files. Should that fail, the log stays and the
// next Open replays it.
func (s *Store) Close() error {
	var err error
	if s.wal != nil {
		err = s.closeWAL()
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// Payment is the durable record of one outgoing payment: the own nonce that carried it.
type Payment struct {
	Partner channel.Address
	ID      uint64
	Nonce   uint64
	Amount  uint64
}

// PendingAction is an on-chain action waiting for a chain (kept opaque to the store).
type PendingAction struct {
	Key  string
	Data []byte
}

// Batch is everything one group commit writes.
type Batch struct {
	// DeleteChannels go first, so a channel replaced in the same batch is written afresh.
	DeleteChannels []channel.Hash
	Channels       []ChannelRecord
	Payments       []Payment
	Pending        []PendingAction
	DonePending    []string
	Meta           []KV
}

// KV is one small named value (secrets of hash locks, for example); a nil Value deletes it.
type KV struct {
	Key   string
	Value []byte
}

// ChannelRecord is one channel's encoded state (encoded when the batch is cut, because the live
// channel keeps changing while the batch is written).
type ChannelRecord struct {
	ID    channel.Hash
	State []byte
}

// Record encodes c for a batch.
func Record(c *channel.Channel) (ChannelRecord, error) {
	b, err := c.MarshalBinary()
	return ChannelRecord{ID: c.Domain.ChannelID, State: b}, err
}

// Empty reports whether the batch writes nothing.
func (b *Batch) Empty() bool {
	return len(b.DeleteChannels) == 0 && len(b.Channels) == 0 && len(b.Payments) == 0 && len(b.Pending) == 0 && len(b.DonePending) == 0 && len(b.Meta) == 0
}

// Commit logs the batch with one fdatasync; when it returns nil everything is on disk. A
// failed commit (a full disk, for one) leaves nothing of the batch visible.
func (s *Store) Commit(b *Batch) error {
	if b.Empty() {
		return nil
	}
	if s.wal == nil {
		return fmt.Errorf("store %s: opened read-only", s.path)
	}
	return s.logBatch(b.ops())
}

func paymentKey(partner channel.Address, id uint64) []byte {
	k := make([]byte, 28)
	copy(k, partner[:])
	binary.BigEndian.PutUint64(k[20:], id)
	return k
}

// Channels loads every stored channel.
func (s *Store) Channels() ([]*channel.Channel, error) {
	kvs, err := s.merged(bChannels, "")
	if err != nil {
		return nil, err
	}
	out := make([]*channel.Channel, 0, len(kvs))
	for _, kv := range kvs {
		c := new(channel.Channel)
		if err := c.UnmarshalBinary(kv.Value); err != nil {
			return nil, fmt.Errorf("channel %x: %w", kv.Key, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// ErrNotFound means no record exists under the key.
var ErrNotFound = errors.New("not found")

// get reads one key, the log's overlay first.
func (s *Store) get(bucket int, key []byte) ([]byte, error) {
	if e, ok := s.ov.get(bucket, key); ok {
		if e.deleted {
			return nil, nil
		}
		return append([]byte(nil), e.value...), nil
	}
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(buckets[bucket]).Get(key); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// LookupPayment returns the record of payment id to partner.
func (s *Store) LookupPayment(partner channel.Address, id uint64) (Payment, error) {
	p := Payment{Partner: partner, ID: id}
	v, err := s.get(bPayments, paymentKey(partner, id))
	if err != nil {
		return p, err
	}
	if v == nil {
		return p, ErrNotFound
	}
	if len(v) != 16 {
		return p, fmt.Errorf("payment %d record: %d bytes, want 16", id, len(v))
	}
	p.Nonce = binary.BigEndian.Uint64(v[:8])
	p.Amount = binary.BigEndian.Uint64(v[8:])
	return p, nil
}

// Pending lists the queued on-chain actions in key order.
func (s *Store) Pending() ([]PendingAction, error) {
	kvs, err := s.merged(bPending, "")
	if err != nil {
		return nil, err
	}
	out := make([]PendingAction, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, PendingAction{Key: kv.Key, Data: kv.Value})
	}
	return out, nil
}

// MetaPrefix lists the named values whose key starts with prefix.
func (s *Store) MetaPrefix(prefix string) ([]KV, error) {
	return s.merged(bMeta, prefix)
}

// Meta reads a small named value (nil if absent).
func (s *Store) Meta(key string) ([]byte, error) {
	return s.get(bMeta, []byte(key))
}
