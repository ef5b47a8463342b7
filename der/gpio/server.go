package gpio

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// PinBank is the pins a PinServer serves, by name (the HIL rig's pins follow its plant).
type PinBank interface {
	ReadPin(name string) (gpio.Level, error)
	WritePin(name string, l gpio.Level) error
	HasPin(name string) bool
}

// PinServer serves a PinBank over the pin line protocol on TCP.
type PinServer struct {
	bank PinBank

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
	addr   string
	wg     sync.WaitGroup
	closed bool
}

// NewPinServer makes a server for bank; Start it to listen.
func NewPinServer(bank PinBank) *PinServer {
	return &PinServer{bank: bank, conns: map[net.Conn]bool{}}
}

// Start listens on addr ("127.0.0.1:0" picks a free port). After Stop it may be started again.
func (s *PinServer) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("gpio: pin server: %w", err)
	}
	s.mu.Lock()
	s.ln, s.addr, s.closed = ln, ln.Addr().String(), false
	s.mu.Unlock()
	s.wg.Add(1)
	go s.accept(ln)
	return nil
}

// Addr is the address the server listens (or last listened) on.
func (s *PinServer) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop closes the listener and every connection and waits for their goroutines.
func (s *PinServer) Stop() error {
	s.mu.Lock()
	ln := s.ln
	s.ln, s.closed = nil, true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	var err error
	if ln != nil {
		err = ln.Close()
	}
	s.wg.Wait()
	return err
}

func (s *PinServer) accept(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

// idleTimeout closes a connection that sent nothing for this long.
const idleTimeout = 5 * time.Minute

func (s *PinServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReaderSize(c, MaxLine)
	for {
		_ = c.SetReadDeadline(time.Now().Add(idleTimeout))
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				fmt.Fprintf(c, "ERR %v\n", err)
			}
			return
		}
		if _, err := fmt.Fprintf(c, "%s\n", s.Handle(line)); err != nil {
			return
		}
	}
}

// Handle answers one request line (exported for tests and fuzzing).
func (s *PinServer) Handle(line string) string {
	req, err := ParseRequest(line)
	if err != nil {
		return "ERR " + oneLine(err.Error())
	}
	if !s.bank.HasPin(req.Pin) {
		return "ERR no pin " + req.Pin
	}
	switch req.Op {
	case OpRead:
		l, err := s.bank.ReadPin(req.Pin)
		if err != nil {
			return "ERR " + oneLine(err.Error())
		}
		return "L " + bit(l)
	case OpOut:
		if err := s.bank.WritePin(req.Pin, req.Level); err != nil {
			return "ERR " + oneLine(err.Error())
		}
	}
	return "OK"
}

func oneLine(s string) string {
	s = strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
	if len(s) > MaxLine-8 {
		s = s[:MaxLine-8]
	}
	return s
}

var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLine-1)

// readLine reads one line of at most MaxLine bytes, without its newline.
func readLine(r *bufio.Reader) (string, error) {
	b, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errLineTooLong
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
