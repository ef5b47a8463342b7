package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
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

// Store is an open ledger database.
type Store struct {
	db *bolt.DB
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
	st := &Store{db: db}
	if err := st.Check(); err != nil {
		db.Close()
		return nil, err
	}
	return st, nil
}

// Durable reports whether a commit is on disk when it returns (bbolt fsyncs every commit unless
// in NoSync mode).
func (s *Store) Durable() bool { return !s.db.NoSync }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

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

// Commit writes the batch in one transaction; when it returns nil everything is on disk.
func (s *Store) Commit(b *Batch) error {
	if b.Empty() {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		chans := tx.Bucket(bucketChannels)
		for _, id := range b.DeleteChannels {
			if err := chans.Delete(id[:]); err != nil {
				return fmt.Errorf("delete channel %x: %w", id[:4], err)
			}
		}
		for _, c := range b.Channels {
			if err := chans.Put(c.ID[:], c.State); err != nil {
				return fmt.Errorf("store channel %x: %w", c.ID[:4], err)
			}
		}
		pays := tx.Bucket(bucketPayments)
		for _, p := range b.Payments {
			var v [16]byte
			binary.BigEndian.PutUint64(v[:8], p.Nonce)
			binary.BigEndian.PutUint64(v[8:], p.Amount)
			if err := pays.Put(paymentKey(p.Partner, p.ID), v[:]); err != nil {
				return fmt.Errorf("store payment %d: %w", p.ID, err)
			}
		}
		pend := tx.Bucket(bucketPending)
		for _, a := range b.Pending {
			if err := pend.Put([]byte(a.Key), a.Data); err != nil {
				return fmt.Errorf("store pending action %q: %w", a.Key, err)
			}
		}
		for _, k := range b.DonePending {
			if err := pend.Delete([]byte(k)); err != nil {
				return fmt.Errorf("delete pending action %q: %w", k, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		for _, kv := range b.Meta {
			if kv.Value == nil {
				if err := meta.Delete([]byte(kv.Key)); err != nil {
					return fmt.Errorf("delete meta %q: %w", kv.Key, err)
				}
				continue
			}
			if err := meta.Put([]byte(kv.Key), kv.Value); err != nil {
				return fmt.Errorf("store meta %q: %w", kv.Key, err)
			}
		}
		return nil
	})
}

func paymentKey(partner channel.Address, id uint64) []byte {
	k := make([]byte, 28)
	copy(k, partner[:])
	binary.BigEndian.PutUint64(k[20:], id)
	return k
}

// Channels loads every stored channel.
func (s *Store) Channels() ([]*channel.Channel, error) {
	var out []*channel.Channel
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketChannels).ForEach(func(k, v []byte) error {
			c := new(channel.Channel)
			if err := c.UnmarshalBinary(v); err != nil {
				return fmt.Errorf("channel %x: %w", k, err)
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// ErrNotFound means no record exists under the key.
var ErrNotFound = errors.New("not found")

// LookupPayment returns the record of payment id to partner.
func (s *Store) LookupPayment(partner channel.Address, id uint64) (Payment, error) {
	p := Payment{Partner: partner, ID: id}
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPayments).Get(paymentKey(partner, id))
		if v == nil {
			return ErrNotFound
		}
		if len(v) != 16 {
			return fmt.Errorf("payment %d record: %d bytes, want 16", id, len(v))
		}
		p.Nonce = binary.BigEndian.Uint64(v[:8])
		p.Amount = binary.BigEndian.Uint64(v[8:])
		return nil
	})
	return p, err
}

// Pending lists the queued on-chain actions in key order.
func (s *Store) Pending() ([]PendingAction, error) {
	var out []PendingAction
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPending).ForEach(func(k, v []byte) error {
			out = append(out, PendingAction{Key: string(k), Data: append([]byte(nil), v...)})
			return nil
		})
	})
	return out, err
}

// MetaPrefix lists the named values whose key starts with prefix.
func (s *Store) MetaPrefix(prefix string) ([]KV, error) {
	var out []KV
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMeta).Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
			out = append(out, KV{Key: string(k), Value: append([]byte(nil), v...)})
		}
		return nil
	})
	return out, err
}

// Meta reads a small named value (nil if absent).
func (s *Store) Meta(key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get([]byte(key)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}
