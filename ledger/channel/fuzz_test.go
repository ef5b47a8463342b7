package channel

import (
	"bytes"
	"testing"
)

func seedMessages(t testing.TB) [][]byte {
	a, b, sa, sb := pair(t, 100)
	d, _ := a.Direct(5, sa)
	l, _ := a.AddLock(Lock{Expiration: 9, Amount: 3, SecretHash: Hash{1}}, RouteInfo{PaymentID: 1, Target: Address{9}, Hops: []Address{{8}, {9}}}, 1, sa)
	_, _ = b.Receive(l, 1)
	state, _ := a.MarshalBinary()
	return [][]byte{EncodeUpdate(d), EncodeUpdate(l), EncodeAck(mustAck(t, b, sb)), EncodeSync(b.SyncMessage(false)), state, {}, {1}, {3, 0}}
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
