package firmware

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/fractals-energy/fractals/fractals"
)

// StateFile is the name of the unit's state file inside its data directory.
const StateFile = "fractals.db"

// stateFormat marks a file as ours; a bbolt file without it is someone else's and is not touched.
const stateFormat = "fractals-unit-state/1"

var (
	bucketMeta = []byte("meta")
	bucketUnit = []byte("unit")
	// bucketRefs holds the market's and the ledger's references (staterefs.go: the commitment in
	// force, the ledger's store, account and channel heads), written with the unit's state.
	bucketRefs = []byte("refs")
	keyFormat  = []byte("format")
	keyUnit    = []byte("state")
)

// SavedState is what the unit writes to disk: its energy counters and the controller's memory (the
// market and ledger references go beside it in bucket refs, staterefs.go).
type SavedState struct {
	SavedAt      time.Time               `json:"saved_at"`
	Cycles       uint64                  `json:"cycles"`
	Energy       fractals.Energy         `json:"energy_wh"`
	Mode         string                  `json:"mode"` // connected or islanded
	Shed         [fractals.NumLoads]bool `json:"shed"`
	EVInfeasible bool                    `json:"ev_infeasible"`
}

// StateStore is the unit's bbolt file in its data directory.
type StateStore struct {
	db   *bolt.DB
	path string
}

// OpenStateStore opens (or creates) the state file in dir. A file that is not a bbolt database, is
// corrupt, or is a bbolt database of something else is moved aside to <name>.bad-<time> and a fresh
// one is started; movedAside then says what happened and where the old file is, so it can be logged.
func OpenStateStore(dir string, now time.Time) (s *StateStore, movedAside error, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("data_dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, StateFile)
	db, problem := openOurs(path)
	if problem == nil {
		return &StateStore{db: db, path: path}, nil, nil
	}
	var locked *lockedError
	if errors.As(problem, &locked) {
		return nil, nil, problem
	}
	return setAside(path, problem, now)
}

// setAside moves the unusable state file at path to <name>.bad-<time> and starts a fresh one;
// movedAside says why and where the old file is.
func setAside(path string, problem error, now time.Time) (s *StateStore, movedAside error, err error) {
	aside := fmt.Sprintf("%s.bad-%s", path, now.UTC().Format("20060102T150405Z"))
	if err := os.Rename(path, aside); err != nil {
		return nil, nil, fmt.Errorf("state file %s: %v; moving it aside: %w", path, problem, err)
	}
	movedAside = fmt.Errorf("state file %s: %v; moved to %s, starting with fresh state", path, problem, aside)
	db, err := openOurs(path)
	if err != nil {
		return nil, movedAside, err
	}
	return &StateStore{db: db, path: path}, movedAside, nil
}

// StartFresh closes the store, moves its file aside for the reason problem (a saved state the unit
// refuses, say) and opens a fresh one in its place.
func (s *StateStore) StartFresh(problem error, now time.Time) (fresh *StateStore, movedAside error, err error) {
	if err := s.db.Close(); err != nil {
		return nil, nil, fmt.Errorf("state file %s: %w", s.path, err)
	}
	return setAside(s.path, problem, now)
}

type lockedError struct{ err error }

func (e *lockedError) Error() string { return e.err.Error() }

// openOurs opens path as a bbolt file, makes sure it is a FRACTALS state file (marking a new one)
// and reads it whole. bbolt panics on some damaged pages (a page that names another id, a freelist of
// an unknown type) instead of returning an error; a damaged file must not crash the unit at every
// start (under systemd, a restart loop that never runs the controller), so a panic while opening or
// reading is the file's fault and reported as such.
func openOurs(path string) (db *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			if db != nil {
				db.Close()
			}
			db, err = nil, fmt.Errorf("a damaged bbolt file: %v", p)
		}
	}()
	db, err = openMarked(path)
	if err != nil {
		return nil, err
	}
	if err := readWhole(db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// readWhole reads every key and value of every bucket, in this goroutine (bbolt's own Check runs in
// another, where a panic cannot be recovered), and decodes the saved state, so that a file that
// opens but holds damaged pages or an unreadable state record is found at start, not mid-day.
func readWhole(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		err := tx.ForEach(func(name []byte, b *bolt.Bucket) error { return readBucket(b) })
		if err != nil {
			return err
		}
		unit := tx.Bucket(bucketUnit)
		if unit == nil {
			return errors.New("no unit bucket")
		}
		if raw := unit.Get(keyUnit); raw != nil {
			var st SavedState
			if err := json.Unmarshal(raw, &st); err != nil {
				return fmt.Errorf("bucket unit, key state: %w", err)
			}
		}
		return nil
	})
}

func readBucket(b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if nested := b.Bucket(k); nested != nil {
				return readBucket(nested)
			}
		}
		return nil
	})
}

// openMarked opens path as a bbolt file and checks or writes the FRACTALS mark.
func openMarked(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, &lockedError{fmt.Errorf("state file %s is held by another process (is a second fractalsd running?)", path)}
	}
	if err != nil {
		return nil, fmt.Errorf("not a readable bbolt file: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if hasBuckets(tx) {
				return errors.New("a bbolt file of another program (no FRACTALS meta bucket)")
			}
			return initBuckets(tx)
		}
		if f := meta.Get(keyFormat); string(f) != stateFormat {
			return fmt.Errorf("format %q, want %q", f, stateFormat)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func hasBuckets(tx *bolt.Tx) bool {
	found := false
	_ = tx.ForEach(func([]byte, *bolt.Bucket) error { found = true; return nil })
	return found
}

func initBuckets(tx *bolt.Tx) error {
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	if err := meta.Put(keyFormat, []byte(stateFormat)); err != nil {
		return err
	}
	for _, b := range [][]byte{bucketUnit, bucketRefs} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// Path is the state file's path.
func (s *StateStore) Path() string { return s.path }

// Load returns the saved state; ok is false in a fresh file.
func (s *StateStore) Load() (st SavedState, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketUnit).Get(keyUnit)
		if raw == nil {
			return nil
		}
		ok = true
		if err := json.Unmarshal(raw, &st); err != nil {
			return fmt.Errorf("state file %s: bucket unit, key state: %w", s.path, err)
		}
		return nil
	})
	return st, ok, err
}

// Save writes st durably (bbolt syncs on commit).
func (s *StateStore) Save(st SavedState) error { return s.SaveWithRefs(st, nil) }

// SaveWithRefs writes st and the references (key → JSON value; a nil value deletes the key) in one
// transaction, so the counters, the controller's state and the market and ledger references on
// disk are always from the same moment.
func (s *StateStore) SaveWithRefs(st SavedState, refs map[string]any) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	encoded := make(map[string][]byte, len(refs))
	for k, v := range refs {
		if v == nil {
			encoded[k] = nil
			continue
		}
		if encoded[k], err = json.Marshal(v); err != nil {
			return fmt.Errorf("state ref %s: %w", k, err)
		}
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketUnit).Put(keyUnit, raw); err != nil {
			return err
		}
		b := tx.Bucket(bucketRefs)
		for k, v := range encoded {
			var err error
			if v == nil {
				err = b.Delete([]byte(k))
			} else {
				err = b.Put([]byte(k), v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// PutRef stores a market or ledger reference under key (e.g. "ledger/channel/<id>").
func (s *StateStore) PutRef(key string, value []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketRefs).Put([]byte(key), value) })
}

// Ref returns the reference under key, nil if there is none.
func (s *StateStore) Ref(key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketRefs).Get([]byte(key)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// Close closes the file.
func (s *StateStore) Close() error { return s.db.Close() }

// savedFrom takes what must survive a restart out of a status.
func savedFrom(st *Status) SavedState {
	return SavedState{SavedAt: st.Snapshot.At, Cycles: st.Cycles, Energy: st.Energy, Mode: st.State.Mode.String(),
		Shed: st.State.Shed, EVInfeasible: st.State.EVInfeasible}
}

// Restore starts the unit from a saved state: its energy counters go on from where they were, and the
// controller keeps its mode and shed loads. The time the utility has been back (GridOKSince) is not
// restored, so an islanded unit waits the full reconnect delay again before closing its PCC: after a
// crash, nothing is assumed about the grid.
func (u *Unit) Restore(s SavedState) error {
	var mode fractals.Mode
	switch s.Mode {
	case "connected", "":
		mode = fractals.Connected
	case "islanded":
		mode = fractals.Islanded
	default:
		return fmt.Errorf("saved state: mode %q is not connected or islanded", s.Mode)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.status.Energy = s.Energy
	u.state = fractals.State{Mode: mode, Shed: s.Shed, EVInfeasible: s.EVInfeasible}
	if mode == fractals.Islanded {
		// Back islanded: the island state machine starts from the island, so the PCC closes only
		// after enter service and synchronisation, counted from the restart.
		u.state.Island.Phase = fractals.PhaseIslanded
	}
	u.status.State = u.state
	return nil
}

// StateKeeper is the observer that writes the unit's state to its store at most every interval of
// unit time, on its own goroutine so the cycle never waits for the disk, and once more on Stop.
type StateKeeper struct {
	store    *StateStore
	interval time.Duration
	queue    chan stateWrite
	done     chan struct{}
	lastAt   time.Time
	mu       sync.Mutex
	latest   stateWrite
	have     bool
	onError  func(error)
	stopOnce sync.Once
	writes   atomic.Uint64
	// ledger reads the ledger's heads at each write, on the keeper's goroutine (nil: no ledger).
	ledger func() (LedgerRef, bool)
}

// stateWrite is one write: the unit's state and the commitment it follows.
type stateWrite struct {
	state  SavedState
	market *MarketRef
}

// NewStateKeeper writes to store every interval; onError (may be nil) hears of failed writes.
func NewStateKeeper(store *StateStore, interval time.Duration, onError func(error)) *StateKeeper {
	k := &StateKeeper{store: store, interval: interval, queue: make(chan stateWrite, 1), done: make(chan struct{}), onError: onError}
	go k.run()
	return k
}

// KeepLedger has every write also record the ledger's heads read from src (Daemon.LedgerRefs).
// Call it before the daemon runs.
func (k *StateKeeper) KeepLedger(src func() (LedgerRef, bool)) {
	k.mu.Lock()
	k.ledger = src
	k.mu.Unlock()
}

func (k *StateKeeper) run() {
	defer close(k.done)
	for s := range k.queue {
		k.save(s)
	}
}

func (k *StateKeeper) save(w stateWrite) {
	refs := map[string]any{RefMarket: nil}
	if w.market != nil {
		refs[RefMarket] = w.market
	}
	k.mu.Lock()
	src := k.ledger
	k.mu.Unlock()
	if src != nil {
		if r, ok := src(); ok {
			refs[RefLedger] = r
		}
	}
	if err := k.store.SaveWithRefs(w.state, refs); err != nil {
		if k.onError != nil {
			k.onError(err)
		}
		return
	}
	k.writes.Add(1)
}

// Writes counts the state writes done.
func (k *StateKeeper) Writes() uint64 { return k.writes.Load() }

// Observe queues the state for writing when the interval has passed since the last queued one.
func (k *StateKeeper) Observe(st *Status, _ time.Duration) {
	w := stateWrite{state: savedFrom(st), market: marketRefOf(st)}
	k.mu.Lock()
	k.latest, k.have = w, true
	k.mu.Unlock()
	if !k.lastAt.IsZero() && w.state.SavedAt.Sub(k.lastAt) < k.interval {
		return
	}
	select {
	case k.queue <- w:
		k.lastAt = w.state.SavedAt
	default: // the disk is still busy with the last one: try again next cycle
	}
}

// Stop writes the latest state and waits until it is on disk.
func (k *StateKeeper) Stop() {
	k.stopOnce.Do(func() {
		close(k.queue)
		<-k.done
		k.mu.Lock()
		s, have := k.latest, k.have
		k.mu.Unlock()
		if have {
			k.save(s)
		}
	})
}
