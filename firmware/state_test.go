package firmware

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/internal/clock"
)

var t0 = time.Date(2026, 6, 21, 10, 0, 0, 0, time.UTC)

// simDaemon is a simulated unit on a simulated clock, ticked by the test.
func simDaemon(t testing.TB) (*Daemon, *clock.Sim) {
	t.Helper()
	clk := clock.NewSim(t0)
	d, err := NewSimDaemon(DefaultSimOptions(), clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d, clk
}

func tick(d *Daemon, clk *clock.Sim, n int) {
	for i := 0; i < n; i++ {
		clk.Advance(d.Cycle())
		d.Tick(context.Background())
	}
}

func TestStateSurvivesReopenAndRestores(t *testing.T) {
	dir := t.TempDir()
	store, aside, err := OpenStateStore(dir, t0)
	if err != nil || aside != nil {
		t.Fatalf("open: %v, %v", err, aside)
	}
	d, clk := simDaemon(t)
	keeper := NewStateKeeper(store, 5*time.Second, func(err error) { t.Error(err) })
	d.AddObserver(keeper)
	tick(d, clk, 60)
	d.StopObservers()
	want := d.Unit().Status()
	if err := store.PutRef("ledger/channel/abc", []byte("head-7")); err != nil {
		t.Fatal(err)
	}
	store.Close()

	store, aside, err = OpenStateStore(dir, t0)
	if err != nil || aside != nil {
		t.Fatalf("reopen: %v, %v", err, aside)
	}
	defer store.Close()
	saved, ok, err := store.Load()
	if err != nil || !ok {
		t.Fatalf("load: ok %v, %v", ok, err)
	}
	if saved.Energy != want.Energy || saved.Cycles != want.Cycles || !saved.SavedAt.Equal(want.Snapshot.At) {
		t.Fatalf("saved %+v, want energy %+v after %d cycles at %v", saved, want.Energy, want.Cycles, want.Snapshot.At)
	}
	if ref, _ := store.Ref("ledger/channel/abc"); string(ref) != "head-7" {
		t.Fatalf("ref %q", ref)
	}
	d2, clk2 := simDaemon(t)
	if err := d2.Unit().Restore(saved); err != nil {
		t.Fatal(err)
	}
	tick(d2, clk2, 10)
	got := d2.Unit().Status().Energy
	if got.PV <= want.Energy.PV || got.Load <= want.Energy.Load {
		t.Fatalf("restored counters did not go on: %+v after %+v", got, want.Energy)
	}
}

func TestStateKeeperWritesAtMostEveryInterval(t *testing.T) {
	store, _, err := OpenStateStore(t.TempDir(), t0)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	d, clk := simDaemon(t)
	k := NewStateKeeper(store, 5*time.Second, nil)
	d.AddObserver(k)
	for i := 1; i <= 12; i++ { // cycles at 1..12 s of unit time: written at 1 s, 6 s, 11 s
		tick(d, clk, 1)
		want := uint64(1 + (i-1)/5)
		for deadline := time.Now().Add(5 * time.Second); k.Writes() < want && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond) // let the disk catch up, so no write is skipped as busy
		}
		if k.Writes() != want {
			t.Fatalf("after %d s: %d writes, want %d", i, k.Writes(), want)
		}
	}
	saved, _, _ := store.Load()
	if want := t0.Add(11 * time.Second); !saved.SavedAt.Equal(want) {
		t.Fatalf("last write at %v, want %v (every 5 s of unit time)", saved.SavedAt, want)
	}
	d.StopObservers()
	saved, _, _ = store.Load()
	if want := t0.Add(12 * time.Second); !saved.SavedAt.Equal(want) {
		t.Fatalf("after stop: %v, want the last cycle %v", saved.SavedAt, want)
	}
}

func TestCorruptStateFileIsMovedAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, StateFile)
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	store, aside, err := OpenStateStore(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if aside == nil || !strings.Contains(aside.Error(), "moved to") {
		t.Fatalf("movedAside = %v", aside)
	}
	if _, ok, _ := store.Load(); ok {
		t.Fatal("fresh file has state")
	}
	old, err := os.ReadFile(path + ".bad-20260621T100000Z")
	if err != nil || !strings.HasPrefix(string(old), "not a database") {
		t.Fatalf("old file not kept: %v", err)
	}
}

func TestForeignBoltFileIsMovedAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, StateFile)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("someone-else"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	store, aside, err := OpenStateStore(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if aside == nil || !strings.Contains(aside.Error(), "another program") {
		t.Fatalf("movedAside = %v", aside)
	}
	if _, err := os.Stat(path + ".bad-20260621T100000Z"); err != nil {
		t.Fatal(err)
	}
}

func TestStateFileHeldByAnotherProcessIsAnError(t *testing.T) {
	dir := t.TempDir()
	first, _, err := OpenStateStore(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_, _, err = OpenStateStore(dir, t0)
	if err == nil || !strings.Contains(err.Error(), "held by another process") {
		t.Fatalf("second open: %v", err)
	}
}

func TestRestoreIsSafe(t *testing.T) {
	d, clk := simDaemon(t)
	saved := SavedState{Mode: "islanded", Shed: [fractals.NumLoads]bool{false, false, true}}
	if err := d.Unit().Restore(saved); err != nil {
		t.Fatal(err)
	}
	d.plant.SetPCC(false) // the crash left the PCC open, as the island had it
	tick(d, clk, 3)
	st := d.Unit().Status()
	// Back from a crash islanded: the PCC stays open until the utility has been good for the whole
	// reconnect delay, counted from the restart.
	if st.State.Mode != fractals.Islanded || st.Commands.PCCClosed || st.State.Island.Phase == fractals.PhaseConnected {
		t.Fatalf("state %+v, pcc closed %v", st.State, st.Commands.PCCClosed)
	}
	if err := d.Unit().Restore(SavedState{Mode: "sideways"}); err == nil {
		t.Fatal("a bad mode was restored")
	}
}

// TestDamagedPagesAreMovedAsideNotPanicked: a real state file with one page overwritten (the page
// names another id, or the freelist's type is unknown) made bbolt panic at every start; now it is a
// damaged file like any other, kept aside, and the unit starts fresh.
func TestDamagedPagesAreMovedAsideNotPanicked(t *testing.T) {
	for _, page := range []int64{2, 3} {
		dir := t.TempDir()
		store, _, err := OpenStateStore(dir, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Save(SavedState{Mode: "connected"}); err != nil {
			t.Fatal(err)
		}
		store.Close()
		path := filepath.Join(dir, StateFile)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, 64), page*int64(os.Getpagesize())); err != nil {
			t.Fatal(err)
		}
		f.Close()
		store, aside, err := OpenStateStore(dir, t0)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if aside == nil || !strings.Contains(aside.Error(), "moved to") {
			t.Fatalf("page %d: movedAside = %v", page, aside)
		}
		if _, ok, err := store.Load(); ok || err != nil {
			t.Fatalf("page %d: fresh file has state (%v)", page, err)
		}
		store.Close()
		if _, err := os.Stat(path + ".bad-20260621T100000Z"); err != nil {
			t.Fatalf("page %d: old file not kept: %v", page, err)
		}
	}
}

// TestUnreadableStateRecordIsMovedAside: a bbolt file whose state record is not JSON starts fresh
// with the old file kept, instead of stopping the daemon at every start.
func TestUnreadableStateRecordIsMovedAside(t *testing.T) {
	dir := t.TempDir()
	store, _, err := OpenStateStore(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketUnit).Put(keyUnit, []byte(`{"energy_wh":`)) }); err != nil {
		t.Fatal(err)
	}
	store.Close()
	store, aside, err := OpenStateStore(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if aside == nil || !strings.Contains(aside.Error(), "bucket unit, key state") {
		t.Fatalf("movedAside = %v", aside)
	}
	if _, ok, err := store.Load(); ok || err != nil {
		t.Fatalf("fresh file has state (%v)", err)
	}
}
