package gpio

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/pin"
)

// Remote is a connection to a pin server; its pins are periph gpio.PinIO values, so relays and
// inputs work on them exactly as on the board's own lines. Requests are serialised on one TCP
// connection, which is re-dialled after a failure.
type Remote struct {
	addr    string
	timeout time.Duration

	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
}

// NewRemote prepares a connection to the pin server at addr; it dials on first use. timeout bounds
// each request (default 1 s).
func NewRemote(addr string, timeout time.Duration) *Remote {
	if timeout <= 0 {
		timeout = time.Second
	}
	return &Remote{addr: addr, timeout: timeout}
}

// Close closes the connection.
func (rm *Remote) Close() error {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm.dropLocked()
}

func (rm *Remote) dropLocked() error {
	if rm.conn == nil {
		return nil
	}
	err := rm.conn.Close()
	rm.conn, rm.r = nil, nil
	return err
}

// Do sends one request and returns its reply.
func (rm *Remote) Do(req Request) (Reply, error) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.conn == nil {
		c, err := net.DialTimeout("tcp", rm.addr, rm.timeout)
		if err != nil {
			return Reply{}, fmt.Errorf("gpio: pin server %s: %w", rm.addr, err)
		}
		rm.conn, rm.r = c, bufio.NewReaderSize(c, MaxLine)
	}
	_ = rm.conn.SetDeadline(time.Now().Add(rm.timeout))
	if _, err := fmt.Fprintf(rm.conn, "%s\n", req); err != nil {
		_ = rm.dropLocked()
		return Reply{}, fmt.Errorf("gpio: pin server %s: %s: %w", rm.addr, req, err)
	}
	line, err := readLine(rm.r)
	if err != nil {
		_ = rm.dropLocked()
		return Reply{}, fmt.Errorf("gpio: pin server %s: %s: %w", rm.addr, req, err)
	}
	rep, err := ParseReply(req.Op, line)
	if err != nil && !errors.Is(err, ErrRemote) {
		_ = rm.dropLocked() // out of step with the server: start afresh
	}
	if err != nil {
		return rep, fmt.Errorf("gpio: pin server %s: %s: %w", rm.addr, req, err)
	}
	return rep, nil
}

// Pin returns the remote pin called name.
func (rm *Remote) Pin(name string) *RemotePin { return &RemotePin{rm: rm, name: name} }

// RemotePin is one pin of a pin server as a periph gpio.PinIO. periph's Read cannot fail, so it
// returns the last level read when the server cannot be reached; ReadLevel reports the error.
type RemotePin struct {
	rm   *Remote
	name string

	mu   sync.Mutex
	last gpio.Level
	out  bool
}

var (
	_ gpio.PinIO  = (*RemotePin)(nil)
	_ LevelReader = (*RemotePin)(nil)
)

// String implements conn.Resource.
func (p *RemotePin) String() string { return p.name + "@" + p.rm.addr }

// Halt implements conn.Resource; a remote pin has nothing running.
func (p *RemotePin) Halt() error { return nil }

// Name implements pin.Pin.
func (p *RemotePin) Name() string { return p.name }

// Number implements pin.Pin: remote pins have no local number.
func (p *RemotePin) Number() int { return -1 }

// Function implements pin.Pin.
func (p *RemotePin) Function() string { return string(p.Func()) }

// Func implements pin.PinFunc.
func (p *RemotePin) Func() pin.Func {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out {
		return gpio.OUT
	}
	return gpio.IN
}

// SupportedFuncs implements pin.PinFunc.
func (p *RemotePin) SupportedFuncs() []pin.Func { return []pin.Func{gpio.IN, gpio.OUT} }

// SetFunc implements pin.PinFunc.
func (p *RemotePin) SetFunc(f pin.Func) error {
	switch f {
	case gpio.IN:
		return p.In(gpio.PullNoChange, gpio.NoEdge)
	case gpio.OUT:
		return p.Out(p.Read())
	}
	return fmt.Errorf("gpio: remote pin %s: function %s not supported", p.name, f)
}

// In sets the pin up as an input; pulls and edges are the server's business.
func (p *RemotePin) In(pull gpio.Pull, edge gpio.Edge) error {
	if edge != gpio.NoEdge {
		return fmt.Errorf("gpio: remote pin %s: edge detection not supported (poll it)", p.name)
	}
	if _, err := p.rm.Do(Request{Op: OpIn, Pin: p.name}); err != nil {
		return err
	}
	p.mu.Lock()
	p.out = false
	p.mu.Unlock()
	return nil
}

// ReadLevel reads the level, or says why it cannot.
func (p *RemotePin) ReadLevel() (gpio.Level, error) {
	rep, err := p.rm.Do(Request{Op: OpRead, Pin: p.name})
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		return p.last, err
	}
	p.last = rep.Level
	return rep.Level, nil
}

// Read implements gpio.PinIn.
func (p *RemotePin) Read() gpio.Level {
	l, _ := p.ReadLevel()
	return l
}

// WaitForEdge is not supported over the wire: it reports no edge.
func (p *RemotePin) WaitForEdge(time.Duration) bool { return false }

// Pull implements gpio.PinIn.
func (p *RemotePin) Pull() gpio.Pull { return gpio.PullNoChange }

// DefaultPull implements gpio.PinIn.
func (p *RemotePin) DefaultPull() gpio.Pull { return gpio.PullNoChange }

// Out drives the pin.
func (p *RemotePin) Out(l gpio.Level) error {
	if _, err := p.rm.Do(Request{Op: OpOut, Pin: p.name, Level: l}); err != nil {
		return err
	}
	p.mu.Lock()
	p.out = true
	p.mu.Unlock()
	return nil
}

// PWM is not supported over the wire.
func (p *RemotePin) PWM(gpio.Duty, physic.Frequency) error {
	return fmt.Errorf("gpio: remote pin %s: PWM not supported", p.name)
}
