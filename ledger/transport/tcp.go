package transport

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// MaxFrame bounds one frame on the wire.
const MaxFrame = 1 << 20

// Defaults of the outgoing links: how many frames wait for one peer at most (beyond that Send
// refuses with ErrQueueFull and the ledger re-sends later), and how long one batch write may block
// before the connection is dropped and dialled again.
const (
	DefaultMaxQueued    = 1 << 14
	DefaultWriteTimeout = 5 * time.Second
)

// ErrQueueFull is returned by Send when a peer's link already holds its maximum of frames (the
// peer reads too slowly or not at all).
var ErrQueueFull = errors.New("tcp transport: peer queue full")

// HelloTimeout bounds the hello of one connection, so a silent peer cannot hold it open.
const HelloTimeout = 5 * time.Second

// Defaults of the listener's limits (hardening.go): open incoming connections at most, hellos
// started per second (and in one burst), and how long one frame may take to arrive once its
// first byte did.
const (
	DefaultMaxConns       = 64
	DefaultHellosPerSec   = 50
	DefaultFrameTimeout   = 10 * time.Second
	defaultHelloBurstSize = 50
)

// TCP is a transport over plain TCP: one outgoing connection per peer (dialled on demand and
// re-dialled after failures) carrying length-prefixed frames, written in batches. Every
// connection starts with a signed hello (hello.go) in which both ends prove their addresses.
type TCP struct {
	signer   Signer
	self     common.Address
	refused  func(error)
	ln       net.Listener
	mu       sync.Mutex
	peers    map[common.Address]*link
	handler  Handler
	conns    map[net.Conn]struct{}
	closed   bool
	wg       sync.WaitGroup
	dialWait time.Duration
	// maxQueued and writeTimeout bound each link (DefaultMaxQueued, DefaultWriteTimeout).
	maxQueued    int
	writeTimeout time.Duration
	limits
}

// ListenTCP listens on addr (for example "127.0.0.1:0") as the unit whose key self holds.
func ListenTCP(self Signer, addr string) (*TCP, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tcp transport: listen %s: %w", addr, err)
	}
	t := &TCP{signer: self, self: self.Address(), ln: ln, peers: map[common.Address]*link{}, conns: map[net.Conn]struct{}{}, dialWait: 50 * time.Millisecond,
		maxQueued: DefaultMaxQueued, writeTimeout: DefaultWriteTimeout, limits: defaultLimits()}
	t.wg.Add(1)
	go t.accept()
	return t, nil
}

// Addr is the listening address.
func (t *TCP) Addr() string { return t.ln.Addr().String() }

// AddPeer tells the transport where unit addr listens; addr becomes a configured partner whose
// connections the listener accepts.
func (t *TCP) AddPeer(addr common.Address, hostport string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partners[addr] = true
	if l, ok := t.peers[addr]; ok {
		l.mu.Lock()
		l.hostport = hostport
		l.mu.Unlock()
		return
	}
	l := &link{t: t, peer: addr, hostport: hostport}
	l.cond = sync.NewCond(&l.mu)
	t.peers[addr] = l
	t.wg.Add(1)
	go l.run()
}

// SetHandler implements Transport.
func (t *TCP) SetHandler(h Handler) {
	t.mu.Lock()
	t.handler = h
	t.mu.Unlock()
}

// SetRefusalHandler installs a receiver of every failed hello, incoming or outgoing (the error
// wraps ErrHelloRefused and names the remote end), and of every frame refused because it is not
// bound to its connection's session (ErrBadFrameTag); the connection is closed either way.
func (t *TCP) SetRefusalHandler(f func(error)) {
	t.mu.Lock()
	t.refused = f
	t.mu.Unlock()
}

func (t *TCP) reportRefusal(err error) {
	if !errors.Is(err, ErrHelloRefused) && !errors.Is(err, ErrBadFrameTag) {
		return
	}
	t.mu.Lock()
	f := t.refused
	t.stats.Refused++
	t.mu.Unlock()
	if f != nil {
		f(err)
	}
}

// Send implements Transport.
func (t *TCP) Send(to common.Address, frame []byte) error {
	if len(frame) > MaxFrame {
		return fmt.Errorf("tcp transport: frame of %d bytes to %s, at most %d", len(frame), to, MaxFrame)
	}
	t.mu.Lock()
	l, ok := t.peers[to]
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return errors.New("tcp transport: closed")
	}
	if !ok {
		return fmt.Errorf("tcp transport: unknown peer %s", to)
	}
	l.mu.Lock()
	if len(l.queue) >= l.t.maxQueued {
		l.mu.Unlock()
		return fmt.Errorf("%w: %d frames for %s", ErrQueueFull, l.t.maxQueued, to)
	}
	l.queue = append(l.queue, frame)
	l.mu.Unlock()
	l.cond.Signal()
	return nil
}

// Close stops listening, closes every connection and waits for the goroutines.
func (t *TCP) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	for c := range t.conns {
		c.Close()
	}
	links := make([]*link, 0, len(t.peers))
	for _, l := range t.peers {
		links = append(links, l)
	}
	t.mu.Unlock()
	err := t.ln.Close()
	for _, l := range links {
		l.mu.Lock()
		l.closed = true
		if l.conn != nil {
			l.conn.Close()
		}
		l.mu.Unlock()
		l.cond.Broadcast()
	}
	t.wg.Wait()
	return err
}

func (t *TCP) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		c.Close()
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *TCP) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	for addr, in := range t.inbound {
		if in == c {
			delete(t.inbound, addr)
		}
	}
	t.mu.Unlock()
	c.Close()
}

func (t *TCP) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		if !t.track(c) {
			return
		}
		if err := t.admit(c); err != nil {
			t.untrack(c)
			t.reportRefusal(err)
			continue
		}
		t.wg.Add(1)
		go t.read(c)
	}
}

// read handles one incoming connection: a hello proving the sender, then its session's frames.
// Nothing is buffered for the connection before the hello succeeded.
func (t *TCP) read(c net.Conn) {
	defer t.wg.Done()
	defer t.untrack(c)
	_ = c.SetDeadline(time.Now().Add(t.helloTimeout))
	from, sess, err := acceptHello(c, t.signer, t.isPartner)
	if err != nil {
		t.reportRefusal(fmt.Errorf("from %s: %w", c.RemoteAddr(), err))
		return
	}
	_ = c.SetDeadline(time.Time{})
	t.replaceInbound(from, c)
	fr := &frameReader{r: bufio.NewReaderSize(c, 16<<10), from: from, s: sess,
		started: func() { _ = c.SetReadDeadline(time.Now().Add(t.frameTimeout)) }}
	for {
		frame, err := fr.next()
		if err != nil {
			if errors.Is(err, ErrBadFrameTag) {
				t.reportRefusal(fmt.Errorf("from %s: %w", c.RemoteAddr(), err))
			}
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		t.mu.Lock()
		h := t.handler
		t.mu.Unlock()
		if h != nil {
			h(from, frame)
		}
	}
}

// link is the outgoing side towards one peer.
type link struct {
	t        *TCP
	peer     common.Address
	mu       sync.Mutex
	cond     *sync.Cond
	hostport string
	queue    [][]byte
	conn     net.Conn
	closed   bool
}

func (l *link) run() {
	defer l.t.wg.Done()
	var w *bufio.Writer
	var sess *session
	for {
		l.mu.Lock()
		for !l.closed && len(l.queue) == 0 {
			l.cond.Wait()
		}
		if l.closed {
			l.mu.Unlock()
			return
		}
		batch := l.queue
		l.queue = nil
		conn, hostport := l.conn, l.hostport
		l.mu.Unlock()
		if conn == nil {
			var err error
			conn, sess, err = l.dial(hostport)
			if err != nil {
				l.t.reportRefusal(err)
				time.Sleep(l.t.dialWait) // the batch is dropped; the ledger re-sends
				continue
			}
			w = bufio.NewWriterSize(conn, 64<<10)
		}
		// A peer that stops reading must not hold this link (and its queue) for ever.
		_ = conn.SetWriteDeadline(time.Now().Add(l.t.writeTimeout))
		if err := writeFrames(w, sess, batch); err != nil {
			conn.Close()
			l.mu.Lock()
			l.conn = nil
			l.mu.Unlock()
		}
	}
}

func (l *link) dial(hostport string) (net.Conn, *session, error) {
	c, err := net.DialTimeout("tcp", hostport, time.Second)
	if err != nil {
		return nil, nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	// Published before the hello so that Close can cut a hello that hangs.
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		c.Close()
		return nil, nil, errors.New("closed")
	}
	l.conn = c
	l.mu.Unlock()
	_ = c.SetDeadline(time.Now().Add(HelloTimeout))
	sess, err := dialHello(c, l.t.signer, l.peer)
	if err != nil {
		c.Close()
		l.mu.Lock()
		l.conn = nil
		l.mu.Unlock()
		return nil, nil, fmt.Errorf("to %s at %s: %w", l.peer, hostport, err)
	}
	_ = c.SetDeadline(time.Time{})
	return c, sess, nil
}
