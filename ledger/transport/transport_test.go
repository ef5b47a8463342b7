package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

type collector struct {
	mu     sync.Mutex
	frames []string
	from   []common.Address
}

func (c *collector) handle(from common.Address, f []byte) {
	c.mu.Lock()
	c.frames = append(c.frames, string(f))
	c.from = append(c.from, from)
	c.mu.Unlock()
}

func (c *collector) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		got := append([]string(nil), c.frames...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d frames, want %d", len(got), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestTCPDeliversInOrderAndRedials(t *testing.T) {
	ka, kb := newKeySigner(t, 1), newKeySigner(t, 2)
	a, b := ka.Address(), kb.Address()
	ta, err := ListenTCP(ka, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ta.Close()
	tb, err := ListenTCP(kb, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var got collector
	tb.SetHandler(got.handle)
	tb.Allow(a) // only configured partners get past the hello
	ta.AddPeer(b, tb.Addr())
	for i := 0; i < 1000; i++ {
		if err := ta.Send(b, []byte{byte(i >> 8), byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	frames := got.wait(t, 1000)
	for i, f := range frames[:1000] {
		if f != string([]byte{byte(i >> 8), byte(i)}) {
			t.Fatalf("frame %d out of order", i)
		}
	}
	if got.from[0] != a {
		t.Fatalf("sender %s, want %s", got.from[0], a)
	}
	// b restarts on a new port: a keeps sending there once told.
	tb.Close()
	tb2, err := ListenTCP(kb, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tb2.Close()
	var again collector
	tb2.SetHandler(again.handle)
	tb2.Allow(a)
	ta.AddPeer(b, tb2.Addr())
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = ta.Send(b, []byte("after restart"))
		again.mu.Lock()
		n := len(again.frames)
		again.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing delivered after the peer moved")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := ta.Send(common.Address{9}, []byte("x")); err == nil {
		t.Fatal("send to an unknown peer succeeded")
	}
}

func TestHubCutLinkDropsFrames(t *testing.T) {
	hub := NewHub()
	a, b := hub.Join(common.Address{1}), hub.Join(common.Address{2})
	defer a.Close()
	defer b.Close()
	var got collector
	b.SetHandler(got.handle)
	hub.SetLink(common.Address{1}, common.Address{2}, false)
	_ = a.Send(common.Address{2}, []byte("lost"))
	hub.SetLink(common.Address{1}, common.Address{2}, true)
	_ = a.Send(common.Address{2}, []byte("kept"))
	if f := got.wait(t, 1); f[0] != "kept" {
		t.Fatalf("got %q", f[0])
	}
}

var fuzzKey = [32]byte{1, 2, 3}

func frameStream(frames ...[]byte) []byte {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	_ = writeFrames(w, newSession(fuzzKey), frames)
	return buf.Bytes()
}

// FuzzReadFrames: any byte stream ends in an error or EOF, never a panic; every frame handed out
// lies within the stream and carried its session tag (so a stream not written under the key
// delivers nothing).
func FuzzReadFrames(f *testing.F) {
	f.Add(frameStream([]byte("hello"), []byte{}, []byte{1, 2, 3}))
	f.Add(frameStream())
	f.Add([]byte{0, 0, 0})
	huge := frameStream()
	huge = binary.BigEndian.AppendUint32(huge, MaxFrame+1)
	f.Add(huge)
	f.Fuzz(func(t *testing.T, data []byte) {
		total := 0
		fr := &frameReader{r: bytes.NewReader(data), from: common.Address{7}, s: newSession(fuzzKey)}
		var err error
		for {
			var frame []byte
			if frame, err = fr.next(); err != nil {
				break
			}
			total += len(frame) + 4 + tagLen
		}
		if err == nil {
			t.Fatal("a finite stream must end with an error")
		}
		if total > len(data) {
			t.Fatalf("frames of %d bytes from a %d-byte stream", total, len(data))
		}
	})
}

// TestStalledPeerBoundsTheQueue: towards a peer that completes the hello but never reads, the
// link's queue stops growing (Send reports ErrQueueFull) and the blocked write gives up at its
// deadline, so the connection is dropped and re-dialled rather than hanging for ever.
func TestStalledPeerBoundsTheQueue(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	peerKey := newKeySigner(t, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if _, _, err := acceptHello(c, peerKey, func(common.Address) bool { return true }); err != nil {
				c.Close()
				continue
			}
			accepted <- c // never read beyond the hello
		}
	}()
	tr, err := ListenTCP(newKeySigner(t, 1), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tr.maxQueued = 64
	tr.writeTimeout = 200 * time.Millisecond
	peer := peerKey.Address()
	tr.AddPeer(peer, ln.Addr().String())
	frame := make([]byte, MaxFrame)
	full := false
	for i := 0; i < 10_000 && !full; i++ {
		err := tr.Send(peer, frame)
		full = errors.Is(err, ErrQueueFull)
		if err != nil && !full {
			t.Fatal(err)
		}
	}
	if !full {
		t.Fatal("the queue towards a stalled peer never filled")
	}
	select {
	case <-accepted:
	case <-time.After(2 * time.Second):
		t.Fatal("never connected")
	}
	// The write deadline drops the stalled connection and empties the queue: the next frame is
	// taken and dialled afresh.
	deadline := time.Now().Add(5 * time.Second)
	for tr.Send(peer, []byte{1}) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the queue never drained")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("the blocked write never gave up")
	}
}
