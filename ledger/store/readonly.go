package store

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrInUse means another process (a running daemon) holds the store open for writing.
var ErrInUse = errors.New("store is open in another process (a running daemon?)")

// OpenReadOnly opens an existing store without changing it (no buckets created, no write
// transaction, a shared lock), for inspection after a crash. A file that is not a ledger store,
// or is torn or corrupted, gives an error naming the file and what is wrong, never a panic.
func OpenReadOnly(path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if err := checkTorn(path); err != nil {
		return nil, err
	}
	// bbolt checks the meta pages' checksums at open; a corrupted page further in can still make
	// it panic on a read, which guard turns into an error here and in Check.
	var db *bolt.DB
	err := guard(func() (err error) {
		db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 500 * time.Millisecond})
		return err
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store %s: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if err := guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketChannels, bucketPayments, bucketPending, bucketMeta} {
				if tx.Bucket(b) == nil {
					return fmt.Errorf("not a ledger store: no %q bucket", b)
				}
			}
			return nil
		})
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	st := &Store{db: db, path: path, ov: newOverlay()}
	if err := st.loadOverlay(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return st, nil
}

// Check reads every key of every bucket, so each page reachable from the root is visited once;
// a page that is garbage (bbolt's own assertions panic, or a page id points outside the mapped
// file) becomes an error naming the file instead of crashing the unit.
func (s *Store) Check() error {
	err := guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
				return b.ForEach(func(k, v []byte) error { return nil })
			})
		})
	})
	if err != nil {
		return fmt.Errorf("store %s: %w", s.db.Path(), err)
	}
	return nil
}

// guard runs f with memory faults turned into panics, and any panic into an error; callers name
// the file.
func guard(f func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupted: %v", r)
		}
	}()
	return f()
}

// PaymentCount is how many payment records the store holds.
func (s *Store) PaymentCount() (int, error) {
	kvs, err := s.merged(bPayments, "")
	return len(kvs), err
}
