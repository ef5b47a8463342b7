package transport

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// countingSigner counts the signatures the listener makes with the unit's key.
type countingSigner struct {
	*keySigner
	n atomic.Int64
}

func (c *countingSigner) Sign(d common.Hash) ([65]byte, error) {
	c.n.Add(1)
	return c.keySigner.Sign(d)
}

type footprint struct {
	heap       uint64
	goroutines int
}

func measure() footprint {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return footprint{heap: ms.HeapAlloc, goroutines: runtime.NumGoroutine()}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// waitGoroutines waits until at most n goroutines run.
func waitGoroutines(t *testing.T, n int, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := runtime.NumGoroutine()
		if got <= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBareOffersSignNothing: 1,000 offers, half from strangers and half claiming a configured
// partner's address, none followed by a proof: the listener signs nothing, and every goroutine
// and byte the connections took is given back. With the default hello rate most of a burst is
// turned away unread.
func TestBareOffersSignNothing(t *testing.T) {
	partner := newKeySigner(t, 1)
	key := &countingSigner{keySigner: newKeySigner(t, 2)}
	tr, _, _ := listener(t, key)
	tr.Allow(partner.Address())
	tr.Limits(0, 1e9, 500*time.Millisecond, 0) // no rate limit: the protocol alone must hold
	before := measure()
	var wg sync.WaitGroup
	var challenged atomic.Int64
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				claim := common.Address{byte(w), byte(i), 0xaa}
				if i%2 == 0 {
					claim = partner.Address()
				}
				c, err := net.Dial("tcp", tr.Addr())
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = c.Write(helloGreeting{Addr: claim, Ephemeral: [ephemeralLen]byte{byte(i) | 1}}.encode())
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := io.ReadFull(c, make([]byte, challengeLen)); err == nil {
					challenged.Add(1)
				}
				c.Close()
			}
		}(w)
	}
	wg.Wait()
	left := waitGoroutines(t, before.goroutines, 3*time.Second)
	after := measure()
	// Offers whose ephemeral key is a low-order X25519 point are refused before a challenge too.
	t.Logf("1000 bare offers: %d signatures, %d challenges (to the partner's claimed address only); goroutines %d before, %d after; heap %.2f MiB before, %.2f MiB after; refused %+v",
		key.n.Load(), challenged.Load(), before.goroutines, left, mib(before.heap), mib(after.heap), tr.ListenerStats())
	if key.n.Load() != 0 {
		t.Fatalf("the listener signed %d times for bare offers", key.n.Load())
	}
	if challenged.Load() > 500 {
		t.Fatalf("%d strangers were challenged", challenged.Load()-500)
	}
	if left > before.goroutines {
		t.Fatalf("%d goroutines left, %d before", left, before.goroutines)
	}

	// At the default rate a burst of 200 is mostly cut before a byte is read.
	rated, _, _ := listener(t, key)
	burstStart := time.Now()
	for i := 0; i < 200; i++ {
		c, err := net.Dial("tcp", rated.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(helloGreeting{Addr: common.Address{byte(i)}}.encode())
		c.Close()
	}
	burst := time.Since(burstStart)
	deadline := time.Now().Add(3 * time.Second)
	for rated.ListenerStats().Refused < 200 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := rated.ListenerStats()
	// The bucket holds defaultHelloBurstSize and refills at DefaultHellosPerSec while the burst lasts.
	allowed := defaultHelloBurstSize + int(burst.Seconds()*DefaultHellosPerSec) + 1
	t.Logf("burst of 200 in %v at %d hellos/s: %+v (at most %d may start a hello)", burst.Round(time.Millisecond), DefaultHellosPerSec, st, allowed)
	if int(st.OverRate) < 200-allowed {
		t.Fatalf("only %d of a burst of 200 were over the rate, want at least %d", st.OverRate, 200-allowed)
	}
}

// TestStallingStrangersHoldLittle: 200 strangers that send an offer and announce a 1 MiB frame,
// and 200 that send nothing, then all stall: the strangers are cut at once, the silent ones
// beyond the connection cap unread and the rest at the hello deadline, and the listener holds
// well under a MiB meanwhile. A configured partner that passes the hello, announces 1 MiB and
// stalls holds one read chunk and is cut at the frame deadline.
func TestStallingStrangersHoldLittle(t *testing.T) {
	partner := newKeySigner(t, 1)
	tr, got, _ := listener(t, newKeySigner(t, 2))
	tr.Allow(partner.Address())
	tr.Limits(64, 1e9, 400*time.Millisecond, 400*time.Millisecond)
	before := measure()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	announce := binary.BigEndian.AppendUint32(nil, MaxFrame)
	for i := 0; i < 400; i++ {
		c, err := net.Dial("tcp", tr.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if i%2 == 0 {
			_, _ = c.Write(append(helloGreeting{Addr: common.Address{byte(i >> 8), byte(i), 0xbb}}.encode(), announce...))
		}
	}
	time.Sleep(100 * time.Millisecond)
	during := measure()
	cut := 0
	start := time.Now()
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
			cut++
		}
	}
	waited := time.Since(start)
	left := waitGoroutines(t, before.goroutines+400, 2*time.Second) // the test's own conns have none
	t.Logf("400 stalling strangers: heap %.2f MiB before, %.2f MiB while they stalled; %d of 400 cut within %v; goroutines %d before, %d after; %+v",
		mib(before.heap), mib(during.heap), cut, waited.Round(time.Millisecond), before.goroutines, left, tr.ListenerStats())
	if cut != 400 {
		t.Fatalf("%d of 400 stalling connections were not cut", 400-cut)
	}
	if grown := int64(during.heap) - int64(before.heap); grown > 2<<20 {
		t.Fatalf("the listener held %.2f MiB for stalling strangers", mib(uint64(grown)))
	}

	// The configured partner: hello, then 1 MiB announced, 1 KiB sent, stall.
	c, err := net.Dial("tcp", tr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := dialHello(c, partner, tr.self); err != nil {
		t.Fatal(err)
	}
	base := measure()
	_, _ = c.Write(append(announce, make([]byte, 1024)...))
	time.Sleep(100 * time.Millisecond)
	held := measure()
	start = time.Now()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = c.Read(make([]byte, 1))
	t.Logf("a partner stalling in a 1 MiB frame: heap +%.3f MiB, cut after %v (%v)", mib(held.heap-min(held.heap, base.heap)), time.Since(start).Round(time.Millisecond), err)
	if err == nil || isTimeout(err) {
		t.Fatal("the stalled frame was not cut by its deadline")
	}
	if held.heap > base.heap+readChunk+256<<10 {
		t.Fatalf("a stalled 1 MiB frame holds %.2f MiB", mib(held.heap-base.heap))
	}
	got.mu.Lock()
	defer got.mu.Unlock()
	if len(got.frames) != 0 {
		t.Fatalf("delivered %d frames", len(got.frames))
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// relay passes bytes between a dialler and the listener, and after the dialler's hello (offer and
// proof) has gone through it injects one frame of its own: what an attacker on the path, who saw
// someone else's hello, would try.
func relay(t *testing.T, to string, inject []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var first atomic.Bool
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", to)
			if err != nil {
				in.Close()
				continue
			}
			go func() { _, _ = io.Copy(in, out); in.Close() }()
			go func(injectHere bool) {
				defer out.Close()
				if injectHere {
					for _, n := range []int{offerLen, proofLen} {
						part := make([]byte, n)
						if _, err := io.ReadFull(in, part); err != nil {
							return
						}
						_, _ = out.Write(part)
					}
					_, _ = out.Write(inject)
				}
				_, _ = io.Copy(out, in)
			}(first.CompareAndSwap(false, true))
		}
	}()
	return ln.Addr().String()
}

// TestInjectedFrameIsRefused: a frame injected into A's connection after A's hello, by a relay
// that does not hold the session key, is refused (reported, never delivered as A's) and the
// connection is cut; A's own frames get through on the next connection.
func TestInjectedFrameIsRefused(t *testing.T) {
	a, b := newKeySigner(t, 1), newKeySigner(t, 2)
	ta, _, _ := listener(t, a)
	tb, got, ref := listener(t, b)
	tb.Allow(a.Address())
	// Framed and tagged correctly, but under a key the relay made up: it cannot know the session's.
	forged := frameStream([]byte("forged: pay mallory"))
	ta.AddPeer(b.Address(), relay(t, tb.Addr(), forged))
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = ta.Send(b.Address(), []byte("honest"))
		got.mu.Lock()
		n := len(got.frames)
		got.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	err := ref.waitForErr(t, ErrBadFrameTag)
	t.Log(err)
	got.mu.Lock()
	defer got.mu.Unlock()
	for i, f := range got.frames {
		if f != "honest" || got.from[i] != a.Address() {
			t.Fatalf("delivered %q from %s", f, got.from[i])
		}
	}
	if len(got.frames) == 0 {
		t.Fatal("the honest frames never arrived")
	}
}
