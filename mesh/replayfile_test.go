package mesh

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/p2p"
)

func sampleWindows() []windowRecord {
	var a, b window
	for _, s := range []uint64{5, 7, 300, 299} {
		a.mark(s)
	}
	b.mark(1 << 40)
	return []windowRecord{
		{streamKey{crypto.PubkeyToAddress(SeededKey(40, 0).PublicKey), Address{}}, a},
		{streamKey{crypto.PubkeyToAddress(SeededKey(40, 1).PublicKey), crypto.PubkeyToAddress(SeededKey(40, 2).PublicKey)}, b},
	}
}

func TestReplayFileRoundTrip(t *testing.T) {
	saved := time.UnixMilli(1_700_000_000_123)
	in := sampleWindows()
	out, at, err := decodeWindows(encodeWindows(in, saved))
	if err != nil {
		t.Fatal(err)
	}
	if !at.Equal(saved) || len(out) != len(in) {
		t.Fatalf("saved %v, %d records", at, len(out))
	}
	for i := range in {
		if out[i] != in[i] {
			t.Fatalf("record %d: %+v, want %+v", i, out[i], in[i])
		}
	}
	for _, s := range []uint64{5, 7, 299, 300} {
		if !out[0].w.seen(s) {
			t.Fatalf("restored window forgot %d", s)
		}
	}
	if out[0].w.seen(298) || out[0].w.seen(301) {
		t.Fatal("restored window claims what it never saw")
	}
}

func TestReplayFileErrorsSayWhat(t *testing.T) {
	good := encodeWindows(sampleWindows(), time.UnixMilli(1))
	flipped := append([]byte(nil), good...)
	flipped[len(replayMagic)+20] ^= 1
	short := encodeWindows(sampleWindows(), time.UnixMilli(1))
	short = short[:len(short)-replayRecordSize]
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"empty":     {nil, "not one"},
		"foreign":   {[]byte(strings.Repeat("x", 100)), "not one"},
		"bit flip":  {flipped, "checksum"},
		"truncated": {short, "checksum"},
	} {
		_, _, err := decodeWindows(c.b)
		if !errors.Is(err, ErrReplayFile) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func FuzzDecodeWindows(f *testing.F) {
	f.Add(encodeWindows(sampleWindows(), time.UnixMilli(1)))
	f.Add(encodeWindows(nil, time.UnixMilli(1)))
	f.Add([]byte(replayMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, saved, err := decodeWindows(b)
		if err != nil {
			return
		}
		again, at, err := decodeWindows(encodeWindows(recs, saved))
		if err != nil || len(again) != len(recs) || !at.Equal(saved) {
			t.Fatalf("accepted file does not round-trip: %v", err)
		}
	})
}

// A unit delivers a broadcast and a direct envelope, shuts down and starts again on the same replay
// file; a third party replaying both to it gets neither delivered a second time, while a new
// envelope of the same author still is.
func TestNodeReplayAcrossRestartDropped(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mesh-windows")
	keyV := SeededKey(41, 0)
	withFile := func(c *NodeConfig) { c.ReplayFile = file }
	v := startNode(t, keyV, "127.0.0.1:0", withFile)
	author := SeededKey(41, 1)
	exp := uint64(time.Now().Add(time.Hour).UnixMilli())
	broadcast := &Envelope{Code: CodeGossip, Community: testCommunity, Seq: 10, ExpiryMs: exp, Payload: []byte("once")}
	direct := &Envelope{Code: CodeMarket, To: v.Self(), Community: testCommunity, Seq: 20, ExpiryMs: exp, Payload: []byte("bid once")}
	fresh := &Envelope{Code: CodeGossip, Community: testCommunity, Seq: 11, ExpiryMs: exp, Payload: []byte("new")}
	for _, e := range []*Envelope{broadcast, direct, fresh} {
		if err := e.Sign(author); err != nil {
			t.Fatal(err)
		}
	}
	sendAll := func(raws ...[]byte) func(a *attacker, rw p2p.MsgReadWriter) {
		return func(a *attacker, rw p2p.MsgReadWriter) {
			for _, raw := range raws {
				e, _ := DecodeEnvelope(raw)
				if writeRaw(rw, uint64(e.Code), raw) != nil {
					return
				}
			}
		}
	}
	gossip, market := v.Subscribe(CodeGossip), v.Subscribe(CodeMarket)
	first := startAttackerKey(t, v, author, sendAll(broadcast.Encode(), direct.Encode()))
	for _, sub := range []Subscription{gossip, market} {
		select {
		case <-sub.C():
		case <-time.After(20 * time.Second):
			t.Fatal("first delivery never happened")
		}
	}
	first.srv.Stop()
	v.Close()

	v2 := startNode(t, keyV, "127.0.0.1:0", withFile)
	gossip2, market2 := v2.Subscribe(CodeGossip), v2.Subscribe(CodeMarket)
	startAttackerKey(t, v2, SeededKey(41, 2), sendAll(broadcast.Encode(), direct.Encode(), fresh.Encode()))
	select {
	case m := <-gossip2.C():
		if string(m.Payload) != "new" {
			t.Fatalf("after the restart the replayed %q was delivered again", m.Payload)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the new envelope after the replays never arrived")
	}
	select {
	case m := <-market2.C():
		t.Fatalf("after the restart the replayed direct %q was delivered again", m.Payload)
	case <-time.After(200 * time.Millisecond):
	}
	if st := v2.Stats(); st.Duplicates < 2 {
		t.Fatalf("restarted node counted %d duplicates, want the 2 replays: %+v", st.Duplicates, st)
	}
}

// While the node runs, the file is rewritten as windows change, so a crash loses at most the last
// ReplayFlushEvery; an unreadable file is moved aside and the node starts anyway.
func TestNodeReplayFileWrittenWhileRunningAndBadFileMovedAside(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mesh-windows")
	if err := os.WriteFile(file, []byte("not a replay file"), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes := make([]*Node, 2)
	nodes[0] = startNode(t, SeededKey(42, 0), "127.0.0.1:0", func(c *NodeConfig) {
		c.ReplayFile, c.ReplayFlushEvery = file, 50*time.Millisecond
	})
	nodes[1] = startNode(t, SeededKey(42, 1), "127.0.0.1:0", nil)
	if aside, _ := filepath.Glob(file + ".bad-*"); len(aside) != 1 {
		t.Fatalf("bad replay file not moved aside: %v", aside)
	}
	nodes[1].AddPeer(nodes[0].Enode())
	eventually(t, 20*time.Second, "not linked", func() bool { return nodes[0].PeerCount() == 1 })
	if err := nodes[1].Broadcast(CodeGossip, []byte("x")); err != nil {
		t.Fatal(err)
	}
	want := streamKey{nodes[1].Self(), Address{}}
	eventually(t, 20*time.Second, "the running node never wrote the broadcast's window", func() bool {
		b, err := os.ReadFile(file)
		if err != nil {
			return false
		}
		recs, _, err := decodeWindows(b)
		if err != nil {
			t.Fatalf("running node wrote a file it cannot read: %v", err)
		}
		for _, r := range recs {
			if r.key == want {
				return true
			}
		}
		return false
	})
}
