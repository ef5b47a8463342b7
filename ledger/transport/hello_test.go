package transport

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// keySigner is a secp256k1 key derived from a seed, the transport's view of a unit's key.
type keySigner struct {
	key  *ecdsa.PrivateKey
	addr common.Address
}

func newKeySigner(t testing.TB, seed byte) *keySigner {
	t.Helper()
	key, err := crypto.ToECDSA(crypto.Keccak256([]byte{'k', 'e', 'y', seed}))
	if err != nil {
		t.Fatal(err)
	}
	return &keySigner{key: key, addr: crypto.PubkeyToAddress(key.PublicKey)}
}

func (k *keySigner) Address() common.Address { return k.addr }

func (k *keySigner) Sign(digest common.Hash) ([65]byte, error) {
	var out [65]byte
	sig, err := crypto.Sign(digest[:], k.key)
	copy(out[:], sig)
	return out, err
}

// impostor holds its own key but claims another unit's address.
type impostor struct {
	*keySigner
	claimed common.Address
}

func (i impostor) Address() common.Address { return i.claimed }

// refusals collects the errors a transport reports for failed hellos.
type refusals struct {
	mu   sync.Mutex
	errs []error
}

func (r *refusals) add(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

// waitFor returns the first refusal whose text holds want.
func (r *refusals) waitFor(t *testing.T, want string) error {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		for _, err := range r.errs {
			if strings.Contains(err.Error(), want) {
				r.mu.Unlock()
				if !errors.Is(err, ErrHelloRefused) {
					t.Fatalf("refusal %q does not wrap ErrHelloRefused", err)
				}
				return err
			}
		}
		got := append([]error(nil), r.errs...)
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no refusal containing %q; got %v", want, got)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitForErr returns the first refusal that wraps target.
func (r *refusals) waitForErr(t *testing.T, target error) error {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		for _, err := range r.errs {
			if errors.Is(err, target) {
				r.mu.Unlock()
				return err
			}
		}
		got := append([]error(nil), r.errs...)
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no refusal wrapping %v; got %v", target, got)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// listener starts a transport for key that collects frames and refusals.
func listener(t *testing.T, key Signer) (*TCP, *collector, *refusals) {
	t.Helper()
	tr, err := ListenTCP(key, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	var got collector
	var ref refusals
	tr.SetHandler(got.handle)
	tr.SetRefusalHandler(ref.add)
	return tr, &got, &ref
}

// expectClosed checks that the listener closed conn without delivering anything more.
func expectClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(make([]byte, 1))
	if err == nil {
		t.Fatalf("read %d bytes from a refused connection", n)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("listener kept the refused connection open")
	}
}

// sendFrame writes frame under sess; a nil sess tags it under a key nobody agreed on.
func sendFrame(t *testing.T, w io.Writer, sess *session, frame []byte) {
	t.Helper()
	if sess == nil {
		sess = newSession([32]byte{0xee})
	}
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	if err := writeFrames(bw, sess, [][]byte{frame}); err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(buf.Bytes())
}

// TestHelloRefusesAClaimedAddress: a dialler that claims partner A's address but holds another
// key is refused with an error naming both before the listener signs anything, its connection is
// closed, and its frame never reaches the handler as coming from A.
func TestHelloRefusesAClaimedAddress(t *testing.T) {
	honest, mallory, b := newKeySigner(t, 1), newKeySigner(t, 66), newKeySigner(t, 2)
	tb, got, ref := listener(t, b)
	tb.Allow(honest.Address())
	conn, err := net.Dial("tcp", tb.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The spoofer runs the honest dialler code with a signer that lies about its address.
	if _, err := dialHello(conn, impostor{mallory, honest.Address()}, b.Address()); err == nil {
		t.Fatal("the spoofer got the listener's answer")
	}
	sendFrame(t, conn, nil, []byte("forged sync"))
	err = ref.waitFor(t, "claims "+honest.Address().Hex()+" but signed as "+mallory.Address().Hex())
	t.Log(err)
	expectClosed(t, conn)
	got.mu.Lock()
	defer got.mu.Unlock()
	if len(got.frames) != 0 {
		t.Fatalf("frames from a refused connection were delivered: %q from %v", got.frames, got.from)
	}
}

// recorder keeps everything written through it.
type recorder struct {
	io.ReadWriter
	written bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.written.Write(p)
	return r.ReadWriter.Write(p)
}

// TestHelloRefusesAReplay: the dialler's half of an honest hello, recorded off the wire and
// played back on a new connection, is refused (the listener's challenge is fresh), so a recorded
// hello does not let anyone speak as A.
func TestHelloRefusesAReplay(t *testing.T) {
	a, b := newKeySigner(t, 1), newKeySigner(t, 2)
	tb, got, ref := listener(t, b)
	tb.Allow(a.Address())

	first, err := net.Dial("tcp", tb.Addr())
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{ReadWriter: first}
	sess, err := dialHello(rec, a, b.Address())
	if err != nil {
		t.Fatal(err)
	}
	sendFrame(t, first, sess, []byte("honest"))
	if f := got.wait(t, 1); f[0] != "honest" || got.from[0] != a.Address() {
		t.Fatalf("honest hello: got %q from %s", f[0], got.from[0])
	}
	first.Close()
	recorded := rec.written.Bytes()
	if len(recorded) != offerLen+proofLen {
		t.Fatalf("recorded %d bytes of hello, want %d", len(recorded), offerLen+proofLen)
	}

	replay, err := net.Dial("tcp", tb.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer replay.Close()
	if _, err := replay.Write(recorded[:offerLen]); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(replay, make([]byte, challengeLen)); err != nil {
		t.Fatalf("no challenge to the replayed offer: %v", err)
	}
	_, _ = replay.Write(recorded[offerLen:])
	sendFrame(t, replay, sess, []byte("replayed"))
	ref.waitFor(t, "claims "+a.Address().Hex()+" but signed as")
	expectClosed(t, replay)
	got.mu.Lock()
	defer got.mu.Unlock()
	if len(got.frames) != 1 {
		t.Fatalf("the replayed connection delivered frames: %q", got.frames)
	}
}

// TestDiallerRefusesAnImpostorListener: a unit dialling B at an address where C listens refuses
// C (nothing is sent to it) and reports why.
func TestDiallerRefusesAnImpostorListener(t *testing.T) {
	a, b, c := newKeySigner(t, 1), newKeySigner(t, 2), newKeySigner(t, 3)
	ta, _, refA := listener(t, a)
	tc, gotC, _ := listener(t, c)
	tc.Allow(a.Address())
	ta.AddPeer(b.Address(), tc.Addr())
	if err := ta.Send(b.Address(), []byte("for b only")); err != nil {
		t.Fatal(err)
	}
	refA.waitFor(t, "listener is "+c.Address().Hex()+", want "+b.Address().Hex())
	time.Sleep(20 * time.Millisecond)
	gotC.mu.Lock()
	defer gotC.mu.Unlock()
	if len(gotC.frames) != 0 {
		t.Fatalf("frames meant for b reached c: %q", gotC.frames)
	}
}

// TestHelloRefusesWrongMagic: an offer of another protocol (or the unsigned FLG1 hello of old)
// is refused and closed before the listener signs anything.
func TestHelloRefusesWrongMagic(t *testing.T) {
	b := newKeySigner(t, 2)
	tb, _, ref := listener(t, b)
	conn, err := net.Dial("tcp", tb.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	offer := helloGreeting{Addr: common.Address{1}}.encode()
	copy(offer, "FLG2")
	_, _ = conn.Write(offer)
	ref.waitFor(t, "offer magic")
	expectClosed(t, conn)
}

// pipeRW reads a fixed stream and discards writes: the far end of a hello as the fuzzer writes it.
type pipeRW struct {
	io.Reader
}

func (pipeRW) Write(p []byte) (int, error) { return len(p), nil }

// FuzzHello: the greeting decoder and both sides of the hello, fed any bytes as the other side,
// never panic and never accept (a valid signature over fresh ephemeral keys cannot be in the
// input); a decoded greeting re-encodes to its input.
func FuzzHello(f *testing.F) {
	a, b := newKeySigner(f, 1), newKeySigner(f, 2)
	offer := helloGreeting{Addr: a.Address(), Ephemeral: [ephemeralLen]byte{9}}
	chal := helloGreeting{Addr: b.Address(), Ephemeral: [ephemeralLen]byte{7}}
	tr := transcript{offer: offer, challenge: chal}
	proof, _ := a.Sign(tr.digest(roleDialler))
	answer, _ := b.Sign(tr.digest(roleListener))
	f.Add(append(offer.encode(), proof[:]...))
	f.Add(append(chal.encode(), answer[:]...))
	f.Add(offer.encode()[:10])
	f.Add(append(chal.encode(), 0xff))
	anyone := func(common.Address) bool { return true }
	f.Fuzz(func(t *testing.T, data []byte) {
		if g, err := decodeGreeting("offer", data); err == nil && !bytes.Equal(g.encode(), data) {
			t.Fatalf("greeting %x re-encodes as %x", data, g.encode())
		}
		if from, _, err := acceptHello(pipeRW{bytes.NewReader(data)}, b, anyone); err == nil {
			t.Fatalf("listener accepted %s from a stream of %d bytes", from, len(data))
		} else if !errors.Is(err, ErrHelloRefused) {
			t.Fatalf("listener error %q does not wrap ErrHelloRefused", err)
		}
		if _, err := dialHello(pipeRW{bytes.NewReader(data)}, a, b.Address()); err == nil {
			t.Fatalf("dialler accepted a listener from a stream of %d bytes", len(data))
		} else if !errors.Is(err, ErrHelloRefused) {
			t.Fatalf("dialler error %q does not wrap ErrHelloRefused", err)
		}
	})
}
