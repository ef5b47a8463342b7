package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fractals-energy/fractals/ledger/channel"
)

// crashCopy copies the store's files as a crash would leave them (no Close, no checkpoint).
func crashCopy(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy.db")
	for _, suffix := range []string{"", ".wal", ".wal.old"} {
		b, err := os.ReadFile(path + suffix)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func commitMeta(t *testing.T, st *Store, key string, value []byte) {
	t.Helper()
	if err := st.Commit(&Batch{Meta: []KV{{Key: key, Value: value}}, Payments: []Payment{{Partner: channel.Address{1}, ID: uint64(len(key)), Nonce: 1, Amount: 2}}}); err != nil {
		t.Fatal(err)
	}
}

func TestLogReplaysAfterACrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	commitMeta(t, st, "a", []byte("1"))
	commitMeta(t, st, "a", []byte("2"))
	if err := st.Commit(&Batch{Meta: []KV{{Key: "gone", Value: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(&Batch{Meta: []KV{{Key: "gone"}}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := st.Meta("a"); string(v) != "2" {
		t.Fatalf("live read %q, want the logged 2", v)
	}
	copyPath := crashCopy(t, path)
	ro, err := OpenReadOnly(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ro.Meta("a"); string(v) != "2" {
		t.Fatalf("read-only open of a crashed store reads %q, want the logged 2", v)
	}
	ro.Close()
	if _, err := os.Stat(copyPath + ".wal"); err != nil {
		t.Fatalf("read-only open changed the log: %v", err)
	}
	re, err := Open(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	if v, _ := re.Meta("a"); string(v) != "2" {
		t.Fatalf("after replay %q, want 2", v)
	}
	if v, _ := re.Meta("gone"); v != nil {
		t.Fatalf("a deleted key came back as %q", v)
	}
	if _, err := re.LookupPayment(channel.Address{1}, 1); err != nil {
		t.Fatalf("payment logged before the crash: %v", err)
	}
}

func TestTornLogTailIsCutOff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	commitMeta(t, st, "a", []byte("kept"))
	commitMeta(t, st, "bb", []byte("torn"))
	copyPath := crashCopy(t, path)
	b, _ := os.ReadFile(copyPath + ".wal")
	if err := os.WriteFile(copyPath+".wal", b[:len(b)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	re, err := Open(copyPath)
	if err != nil {
		t.Fatalf("a torn last append must be cut off, not refused: %v", err)
	}
	defer re.Close()
	if v, _ := re.Meta("a"); string(v) != "kept" {
		t.Fatalf("%q, want the complete record kept", v)
	}
	if v, _ := re.Meta("bb"); v != nil {
		t.Fatalf("the torn record's write %q is visible", v)
	}
}

func TestCorruptedLogRecordIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	commitMeta(t, st, "a", []byte("first"))
	commitMeta(t, st, "bb", []byte("second"))
	copyPath := crashCopy(t, path)
	b, _ := os.ReadFile(copyPath + ".wal")
	i := bytes.Index(b, []byte("first"))
	b[i] ^= 0xff
	if err := os.WriteFile(copyPath+".wal", b, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func(string) (*Store, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
		_, err := open(copyPath)
		if err == nil || !strings.Contains(err.Error(), "corrupted") || !strings.Contains(err.Error(), copyPath+".wal") {
			t.Fatalf("%s of a log with a bad record before good ones: %v, want a corrupted error naming the log", name, err)
		}
	}
}

func TestCheckpointsKeepReadsCurrent(t *testing.T) {
	old := walCheckpointBytes
	walCheckpointBytes = 4 << 10
	defer func() { walCheckpointBytes = old }()
	path := filepath.Join(t.TempDir(), "ledger.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte{7}, 300)
	for i := 0; i < 400; i++ {
		key := fmt.Sprintf("k%03d", i%37)
		v := append([]byte(fmt.Sprintf("%d:", i)), value...)
		if err := st.Commit(&Batch{Meta: []KV{{Key: key, Value: v}}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Meta(key); !bytes.Equal(got, v) {
			t.Fatalf("commit %d: read %q..., want %q...", i, got[:6], v[:6])
		}
		if kvs, _ := st.MetaPrefix("k"); len(kvs) != min(i+1, 37) {
			t.Fatalf("commit %d: %d keys, want %d", i, len(kvs), min(i+1, 37))
		}
	}
	copyPath := crashCopy(t, path)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".wal"); !os.IsNotExist(err) {
		t.Fatalf("Close left the log: %v", err)
	}
	for _, p := range []string{path, copyPath} {
		re, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		kvs, _ := re.MetaPrefix("k")
		for _, kv := range kvs {
			var i int
			fmt.Sscanf(string(kv.Value), "%d:", &i)
			if i < 400-37 {
				t.Fatalf("%s: %s holds commit %d, an old value", p, kv.Key, i)
			}
		}
		re.Close()
	}
}

// BenchmarkCommit measures one group commit of a typical batch (two channel states, a payment):
// appended to the log with one fdatasync, against the same batch as a bbolt transaction (two).
func BenchmarkCommit(b *testing.B) {
	state := bytes.Repeat([]byte{1}, 420)
	batch := func(i int) *Batch {
		return &Batch{Channels: []ChannelRecord{{ID: channel.Hash{1}, State: state}, {ID: channel.Hash{2}, State: state}},
			Payments: []Payment{{Partner: channel.Address{3}, ID: uint64(i + 1), Nonce: uint64(i), Amount: 1}}}
	}
	b.Run("log", func(b *testing.B) {
		st, err := Open(filepath.Join(b.TempDir(), "ledger.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		for i := 0; i < b.N; i++ {
			if err := st.Commit(batch(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bbolt", func(b *testing.B) {
		st, err := Open(filepath.Join(b.TempDir(), "ledger.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		for i := 0; i < b.N; i++ {
			if err := applyToBolt(st.db, []walRecord{{seq: uint64(i + 1), ops: batch(i).ops()}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
