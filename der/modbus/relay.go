package modbus

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// accept serves clients of the relay listener l until it closes, refusing those beyond
// ConnFault.MaxClients.
func (s *Server) accept(l net.Listener, inner string) {
	defer s.relays.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.front != l {
			s.mu.Unlock()
			c.Close()
			return
		}
		if limit := s.connFault.MaxClients; limit > 0 && s.nclients >= limit {
			s.mu.Unlock()
			c.Close()
			continue
		}
		s.nclients++
		s.clients[c] = true
		s.relays.Add(1)
		s.mu.Unlock()
		go s.relay(c, inner)
	}
}

// relay forwards request frames from client c to the register server at inner and its replies
// back, one at a time, applying the connection fault between them.
func (s *Server) relay(c net.Conn, inner string) {
	defer s.relays.Done()
	reset := false
	var back net.Conn
	defer func() {
		// Counted out before the close is seen, so a client that redials at once is served.
		s.mu.Lock()
		delete(s.clients, c)
		if back != nil {
			delete(s.clients, back)
		}
		s.nclients--
		s.mu.Unlock()
		if tc, ok := c.(*net.TCPConn); ok && reset {
			tc.SetLinger(0) // an abortive close sends a reset
		}
		c.Close()
		if back != nil {
			back.Close()
		}
	}()
	back, err := net.DialTimeout("tcp", inner, time.Second)
	if err != nil {
		return
	}
	s.mu.Lock()
	if s.front == nil { // stopped while dialling: Stop has closed the others already
		s.mu.Unlock()
		return
	}
	s.clients[back] = true
	s.mu.Unlock()
	for served := 0; ; {
		s.mu.Lock()
		f := s.connFault
		s.mu.Unlock()
		deadline := time.Time{}
		if f.IdleClose > 0 {
			deadline = time.Now().Add(f.IdleClose)
		}
		if c.SetReadDeadline(deadline) != nil {
			return
		}
		req, err := readFrame(c)
		if err != nil {
			reset = f.Reset
			return
		}
		if _, err := back.Write(req); err != nil {
			return
		}
		reply, err := readFrame(back)
		if err != nil {
			return
		}
		if _, err := c.Write(reply); err != nil {
			return
		}
		served++
		if f.CloseAfter > 0 && served >= f.CloseAfter {
			reset = f.Reset
			return
		}
	}
}

// readFrame reads one Modbus TCP frame (MBAP header and PDU).
func readFrame(r io.Reader) ([]byte, error) {
	var hdr [6]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[4:]))
	if n < 2 || n > 254 {
		return nil, fmt.Errorf("modbus: relay: frame length %d, accepted 2..254", n)
	}
	frame := make([]byte, 6+n)
	copy(frame, hdr[:])
	if _, err := io.ReadFull(r, frame[6:]); err != nil {
		return nil, err
	}
	return frame, nil
}
