package transport

import (
	"fmt"
	"net"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// limits are what the listener grants before and after a hello: only configured partners pass
// it, a bounded number of connections are open at once, hellos start at a bounded rate, and a
// frame must arrive within a deadline once it started.
type limits struct {
	// partners are the addresses whose hellos are answered (AddPeer and Allow add them; guarded
	// by TCP.mu like everything below).
	partners map[common.Address]bool
	// inbound is each partner's authenticated incoming connection; a new one replaces the old.
	inbound map[common.Address]net.Conn

	maxConns     int
	hellosPerSec float64
	helloBurst   float64
	helloTimeout time.Duration
	frameTimeout time.Duration

	// tokens and refilled are the hello rate's token bucket.
	tokens   float64
	refilled time.Time

	stats ListenerStats
}

// ListenerStats counts what the listener turned away.
type ListenerStats struct {
	// OverCap and OverRate count connections closed unread because too many were open or too
	// many hellos started in the last second; Refused counts every refusal reported: those two,
	// failed hellos (strangers among them) and frames that failed their session tag.
	OverCap, OverRate, Refused uint64
}

func defaultLimits() limits {
	return limits{partners: map[common.Address]bool{}, inbound: map[common.Address]net.Conn{},
		maxConns: DefaultMaxConns, hellosPerSec: DefaultHellosPerSec, helloBurst: defaultHelloBurstSize,
		helloTimeout: HelloTimeout, frameTimeout: DefaultFrameTimeout, tokens: defaultHelloBurstSize}
}

// Limits sets the listener's bounds (zero keeps a value as it is); call it before traffic starts.
func (t *TCP) Limits(maxConns int, hellosPerSec float64, helloTimeout, frameTimeout time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if maxConns > 0 {
		t.maxConns = maxConns
	}
	if hellosPerSec > 0 {
		t.hellosPerSec, t.helloBurst, t.tokens = hellosPerSec, hellosPerSec, hellosPerSec
	}
	if helloTimeout > 0 {
		t.helloTimeout = helloTimeout
	}
	if frameTimeout > 0 {
		t.frameTimeout = frameTimeout
	}
}

// Allow makes addr a configured partner that may dial in, without saying where it listens.
func (t *TCP) Allow(addr common.Address) {
	t.mu.Lock()
	t.partners[addr] = true
	t.mu.Unlock()
}

// ListenerStats reports what the listener has turned away so far.
func (t *TCP) ListenerStats() ListenerStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats
}

func (t *TCP) isPartner(addr common.Address) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.partners[addr]
}

// admit decides, before a byte is read, whether the new connection c (already tracked) may start
// a hello: within the connection cap and the hello rate.
func (t *TCP) admit(c net.Conn) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.conns) > t.maxConns {
		t.stats.OverCap++
		return fmt.Errorf("from %s: %w: %d connections open, at most %d", c.RemoteAddr(), ErrHelloRefused, len(t.conns)-1, t.maxConns)
	}
	now := time.Now()
	if !t.refilled.IsZero() {
		t.tokens = min(t.helloBurst, t.tokens+now.Sub(t.refilled).Seconds()*t.hellosPerSec)
	}
	t.refilled = now
	if t.tokens < 1 {
		t.stats.OverRate++
		return fmt.Errorf("from %s: %w: more than %g hellos/s", c.RemoteAddr(), ErrHelloRefused, t.hellosPerSec)
	}
	t.tokens--
	return nil
}

// replaceInbound keeps one incoming connection per partner: a partner that dials again (after a
// restart, or a link it gave up on) replaces its old connection, which is closed.
func (t *TCP) replaceInbound(from common.Address, c net.Conn) {
	t.mu.Lock()
	old := t.inbound[from]
	t.inbound[from] = c
	t.mu.Unlock()
	if old != nil && old != c {
		old.Close()
	}
}
