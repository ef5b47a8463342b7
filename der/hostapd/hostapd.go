package hostapd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fractals-energy/fractals/der"
)

// maxReply bounds one reply datagram (hostapd's own buffer is 4 kB; STATUS fits easily).
const maxReply = 8 << 10

// Client talks to one hostapd control socket (/var/run/hostapd/wlan0).
type Client struct {
	server  string
	timeout time.Duration
	mu      sync.Mutex // one request at a time: replies carry no id
	conn    *net.UnixConn
	local   string
}

var seq atomic.Uint64

// New prepares a client of the control socket at server whose reply socket goes in dir (the system
// temp dir when empty); it connects on the first request and again after a failure, so a hostapd
// that starts after the unit is found.
func New(server, dir string, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = time.Second
	}
	if dir == "" {
		dir = os.TempDir()
	}
	return &Client{server: server, timeout: timeout, local: filepath.Join(dir, fmt.Sprintf("fractals-hostapd-%d-%d", os.Getpid(), seq.Add(1)))}
}

// Dial is New followed by a connection now.
func Dial(server, dir string, timeout time.Duration) (*Client, error) {
	c := New(server, dir, timeout)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.connect(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Client) connect() error {
	_ = os.Remove(c.local) // left by an earlier connection of this client
	conn, err := net.DialUnix("unixgram", &net.UnixAddr{Name: c.local, Net: "unixgram"}, &net.UnixAddr{Name: c.server, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("hostapd: control socket %s: %v: %w", c.server, err, der.ErrStale)
	}
	c.conn = conn
	return nil
}

func (c *Client) drop() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
	_ = os.Remove(c.local)
}

// Close closes the socket and removes the local reply socket.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop()
	return nil
}

// Request sends one command and returns its reply. A failed send or a timeout wraps der.ErrStale.
func (c *Client) Request(ctx context.Context, cmd string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		if err := c.connect(); err != nil {
			return "", err
		}
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.conn.SetDeadline(deadline)
	if _, err := c.conn.Write([]byte(cmd)); err != nil {
		c.drop()
		return "", fmt.Errorf("hostapd: %s: %s: %v: %w", c.server, cmd, err, der.ErrStale)
	}
	buf := make([]byte, maxReply)
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			c.drop() // a late reply must not be taken for the next command's
			return "", fmt.Errorf("hostapd: %s: %s: no reply: %v: %w", c.server, cmd, err, der.ErrStale)
		}
		reply := string(buf[:n])
		// Unsolicited event messages ("<3>AP-STA-CONNECTED ...") reach attached monitors only,
		// but skip one should it arrive.
		if strings.HasPrefix(reply, "<") {
			continue
		}
		return reply, nil
	}
}

// ok sends a command whose reply must be OK.
func (c *Client) ok(ctx context.Context, cmd string) error {
	reply, err := c.Request(ctx, cmd)
	if err != nil {
		return err
	}
	if strings.TrimSpace(reply) != "OK" {
		return fmt.Errorf("hostapd: %s: %s: reply %.40q, want OK", c.server, cmd, reply)
	}
	return nil
}

// Status is what hostapd's STATUS reports that the unit uses.
type Status struct {
	State    string // ENABLED, DISABLED, ...
	Stations int    // num_sta[0]
}

// ParseStatus reads a STATUS reply: key=value lines; state and num_sta[0] are required.
func ParseStatus(reply string) (Status, error) {
	if len(reply) > maxReply {
		return Status{}, fmt.Errorf("hostapd: STATUS reply of %d bytes", len(reply))
	}
	var st Status
	var haveState, haveSta bool
	for i, line := range strings.Split(strings.TrimRight(reply, "\n"), "\n") {
		key, value, found := strings.Cut(line, "=")
		if !found {
			if strings.TrimSpace(line) == "FAIL" {
				return Status{}, errors.New("hostapd: STATUS: FAIL")
			}
			return Status{}, fmt.Errorf("hostapd: STATUS line %d: %.40q is not key=value", i+1, line)
		}
		switch key {
		case "state":
			st.State, haveState = value, true
		case "num_sta[0]":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 || n > 10000 {
				return Status{}, fmt.Errorf("hostapd: STATUS line %d: num_sta[0]=%.20q is not a station count", i+1, value)
			}
			st.Stations, haveSta = n, true
		}
	}
	if !haveState {
		return Status{}, errors.New("hostapd: STATUS: no state line")
	}
	if !haveSta && st.State == "ENABLED" {
		return Status{}, errors.New("hostapd: STATUS: no num_sta[0] line")
	}
	return st, nil
}

// AP adapts a Client to der.AccessPoint. hostapd reports no client limit in STATUS, so AP keeps
// the one it last set (Limit, initially the configured one).
type AP struct {
	C     *Client
	mu    sync.Mutex
	Limit int
}

var _ der.AccessPoint = (*AP)(nil)

// ReadAccessPoint reports state, stations and the client limit last set.
func (a *AP) ReadAccessPoint(ctx context.Context) (der.AccessPointStatus, error) {
	reply, err := a.C.Request(ctx, "STATUS")
	if err != nil {
		return der.AccessPointStatus{}, err
	}
	st, err := ParseStatus(reply)
	if err != nil {
		return der.AccessPointStatus{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return der.AccessPointStatus{Enabled: st.State == "ENABLED", Clients: st.Stations, ClientLimit: a.Limit}, nil
}

// SetClientLimit sets max_num_sta (1..2007, hostapd's range).
func (a *AP) SetClientLimit(ctx context.Context, n int) error {
	if n < 1 || n > 2007 {
		return fmt.Errorf("hostapd: client limit %d outside 1..2007", n)
	}
	if err := a.C.ok(ctx, fmt.Sprintf("SET max_num_sta %d", n)); err != nil {
		return err
	}
	a.mu.Lock()
	a.Limit = n
	a.mu.Unlock()
	return nil
}

// SetAccessPointEnabled sends ENABLE or DISABLE (hostapd answers FAIL when it already is, which
// is not an error here).
func (a *AP) SetAccessPointEnabled(ctx context.Context, on bool) error {
	cmd := "DISABLE"
	if on {
		cmd = "ENABLE"
	}
	reply, err := a.C.Request(ctx, cmd)
	if err != nil {
		return err
	}
	switch strings.TrimSpace(reply) {
	case "OK":
		return nil
	case "FAIL":
		st, err := a.ReadAccessPoint(ctx)
		if err == nil && st.Enabled == on {
			return nil
		}
		return fmt.Errorf("hostapd: %s: FAIL", cmd)
	}
	return fmt.Errorf("hostapd: %s: reply %.40q, want OK", cmd, reply)
}
