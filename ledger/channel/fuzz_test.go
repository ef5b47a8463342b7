package channel

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/fractals-energy/fractals/ledger/internal/wire"
)

func seedMessages(t testing.TB) [][]byte {
	a, b, sa, sb := pair(t, 100)
	d, _ := a.Direct(5, sa)
	l, _ := a.AddLock(Lock{Expiration: 9, Amount: 3, SecretHash: Hash{1}}, RouteInfo{PaymentID: 1, Target: Address{9}, Hops: []Address{{8}, {9}}}, 1, sa)
	_, _ = b.Receive(l, 1)
	state, _ := a.MarshalBinary()
	// A pending withdrawal both signed: the Sync carries it, the state keeps its signatures, and
	// the version 3 state (before the signatures were kept) still decodes.
	agreeWithdraw(t, a, b, sa, sb, 20)
	withdrawing, _ := a.MarshalBinary()
	return [][]byte{EncodeUpdate(d), EncodeUpdate(l), EncodeAck(mustAck(t, b, sb)), EncodeSync(b.SyncMessage(false)), state,
		EncodeSync(a.SyncMessage(true)), EncodeSync(b.SyncMessage(false)), withdrawing, marshalV3(a), {}, {1}, {3, 0}}
}

// marshalV3 is the channel state as releases before version 4 wrote it (no withdrawal
// signatures), for the migration tests.
func marshalV3(c *Channel) []byte {
	w := &wire.Writer{}
	w.U8(oldStateV3)
	writeDomain(w, c.Domain)
	for _, s := range []*Side{&c.Own, &c.Partner} {
		w.Bytes(s.Address[:])
		w.U64(s.Deposit)
		w.U64(s.Withdrawn)
		w.U64(s.ChainWithdrawn)
		w.U64(s.WithdrawExpiry)
		writeProof(w, &s.Proof)
		writeLocks(w, s.Locks)
	}
	w.U64(c.Acked)
	if c.Closing {
		w.U8(1)
	} else {
		w.U8(0)
	}
	return w.Buf
}

// FuzzDecodeUpdate: any input either decodes to an update that re-encodes to the same bytes, or
// returns an error; it never panics.
func FuzzDecodeUpdate(f *testing.F) {
	for _, m := range seedMessages(f) {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := DecodeUpdate(data)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeUpdate(u), data) {
			t.Fatalf("update does not round-trip")
		}
		// A decoded update must be safe to hand to the state machine.
		a, _, _, _ := pair(t, 10)
		_, _ = a.Receive(u, 0)
		if err := a.CheckInvariant(); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzDecodeAck(f *testing.F) {
	for _, m := range seedMessages(f) {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeAck(data)
		if err == nil && !bytes.Equal(EncodeAck(a), data) {
			t.Fatalf("ack does not round-trip")
		}
	})
}

func FuzzDecodeSync(f *testing.F) {
	for _, m := range seedMessages(f) {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSync(data)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeSync(s), data) {
			t.Fatalf("sync does not round-trip")
		}
		a, _, _, _ := pair(t, 10)
		_, _ = a.HandleSync(s)
		if err := a.CheckInvariant(); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzUnmarshalChannel(f *testing.F) {
	for _, m := range seedMessages(f) {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Channel
		if err := c.UnmarshalBinary(data); err != nil {
			return
		}
		out, _ := c.MarshalBinary()
		if data[0] == oldStateV3 {
			// Migrated: written back as version 4, it must decode to the same state.
			var again Channel
			if err := again.UnmarshalBinary(out); err != nil || !reflect.DeepEqual(again, c) {
				t.Fatalf("migrated version 3 state does not survive a rewrite: %v", err)
			}
			return
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("channel state does not round-trip")
		}
	})
}

// TestDecodeUpdateFormatsNothing: decoding an update with many locks allocates only the lock
// list, never the field names its errors would use.
func TestDecodeUpdateFormatsNothing(t *testing.T) {
	a, _, sa, _ := pair(t, 1000)
	var u Update
	for i := 0; i < 16; i++ {
		var err error
		u, err = a.AddLock(Lock{Expiration: 100, Amount: 1, SecretHash: Hash{byte(i + 1)}}, RouteInfo{}, 1, sa)
		if err != nil {
			t.Fatal(err)
		}
	}
	frame := EncodeUpdate(u)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := DecodeUpdate(frame); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Fatalf("decoding an update with %d locks allocates %.0f times, want at most 2", len(u.Locks), allocs)
	}
}
