package modbus

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	sv "github.com/simonvetter/modbus"
)

// Bank is the register store of one unit a Server serves (a sunspec.Map is one).
type Bank interface {
	ReadRegisters(addr, n uint16) ([]uint16, error)
	WriteRegisters(addr uint16, vals []uint16) error
}

// Fault is what a Server does wrong for one unit, for fault-injection tests and the HIL rig.
type Fault struct {
	// Silent: the unit does not answer (as an unpowered device behind a gateway); each request
	// waits until the fault is cleared or the server stops, so the client times out.
	Silent bool
	// Delay is added before every reply.
	Delay time.Duration
	// Exception, when non-zero, is the exception code every request gets (1-4, 6, 10, 11).
	Exception byte
	// Garbage replaces every register read with random values (seeded, so runs repeat).
	Garbage bool
	// BusyTimes answers the unit's next BusyTimes requests with exception 6 (server device busy),
	// then serves it normally, as an inverter busy with a write or a firmware task does.
	BusyTimes int
}

// ConnFault is what a Server does wrong with client connections (all units alike), for the faults
// users meet most with real devices: connections dropped when idle or after a few requests, and
// devices that serve one TCP client only.
type ConnFault struct {
	// MaxClients, when positive, is how many client connections are served at once; a further
	// client is accepted and closed at once, as single-client devices do.
	MaxClients int
	// CloseAfter, when positive, closes each connection right after its CloseAfter-th reply.
	CloseAfter int
	// IdleClose, when positive, closes a connection that sends no request for this long.
	IdleClose time.Duration
	// Reset closes those connections with a TCP reset instead of an orderly close, so the client
	// sees "connection reset by peer" rather than EOF.
	Reset bool
}

var exceptions = map[byte]error{
	1: sv.ErrIllegalFunction, 2: sv.ErrIllegalDataAddress, 3: sv.ErrIllegalDataValue,
	4: sv.ErrServerDeviceFailure, 5: sv.ErrAcknowledge, 6: sv.ErrServerDeviceBusy, 8: sv.ErrMemoryParityError,
	10: sv.ErrGWPathUnavailable, 11: sv.ErrGWTargetFailedToRespond,
}

// Server serves register banks, one per unit id, over Modbus TCP (github.com/simonvetter/modbus),
// as a SunSpec gateway does. Unknown unit ids get exception 11 (gateway target failed to respond).
//
// Clients reach the register server through a small frame relay owned by Server, which applies the
// connection faults (ConnFault) a register handler cannot: closing a connection, refusing a client.
type Server struct {
	mu        sync.Mutex
	addr      string
	front     net.Listener
	clients   map[net.Conn]bool // relayed connections, both sides, closed by Stop
	nclients  int
	connFault ConnFault
	relays    sync.WaitGroup
	banks     map[byte]Bank
	faults    map[byte]Fault
	cleared   chan struct{} // closed and replaced whenever faults change or the server stops
	rng       *rand.Rand
	srv       *sv.ModbusServer
	// Errors maps a Bank's errors to exception codes; nil maps every error to 2 (illegal address).
	Errors func(error) byte
}

// NewServer makes a server for banks; Start it to listen.
func NewServer(banks map[byte]Bank, seed uint64) *Server {
	return &Server{banks: banks, faults: map[byte]Fault{}, cleared: make(chan struct{}), clients: map[net.Conn]bool{},
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Start listens on addr ("127.0.0.1:0" picks a free port; Addr tells which): the relay binds addr
// and forwards to the register server on a loopback port of its own.
func (s *Server) Start(addr string) error {
	srv, inner, err := s.startInner()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Stop()
		return fmt.Errorf("modbus: server: %w", err)
	}
	s.mu.Lock()
	s.srv, s.front, s.addr = srv, l, l.Addr().String()
	s.relays.Add(1)
	s.mu.Unlock()
	go s.accept(l, inner)
	return nil
}

// startInner starts the register server on a free loopback port. It cannot report the port it
// bound, so a free port is found first and then bound by it; a port taken in between is retried.
func (s *Server) startInner() (*sv.ModbusServer, string, error) {
	var lastErr error
	for try := 0; try < 20; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, "", fmt.Errorf("modbus: server: %w", err)
		}
		a := l.Addr().String()
		l.Close()
		srv, err := sv.NewServer(&sv.ServerConfiguration{URL: "tcp://" + a, Timeout: time.Minute, MaxClients: 64}, serverHandler{s})
		if err != nil {
			return nil, "", fmt.Errorf("modbus: server on %s: %w", a, err)
		}
		if err := srv.Start(); err != nil {
			lastErr = err
			continue
		}
		return srv, a, nil
	}
	return nil, "", fmt.Errorf("modbus: server: %w", lastErr)
}

// Addr is the address the server listens on.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop closes the listener and every client connection and releases silent requests. Start may be
// called again (with Addr() to come back on the same port, as a rebooted device does).
func (s *Server) Stop() error {
	s.mu.Lock()
	srv, front := s.srv, s.front
	s.srv, s.front = nil, nil
	close(s.cleared)
	s.cleared = make(chan struct{})
	for c := range s.clients {
		c.Close()
	}
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	front.Close()
	err := srv.Stop()
	s.relays.Wait()
	return err
}

// SetConnFault sets the connection fault; the zero ConnFault clears it. It applies to requests
// from now on, and MaxClients to clients that connect from now on.
func (s *Server) SetConnFault(f ConnFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connFault = f
}

// SetFault sets the fault of unit; the zero Fault clears it.
func (s *Server) SetFault(unit byte, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == (Fault{}) {
		delete(s.faults, unit)
	} else {
		s.faults[unit] = f
	}
	close(s.cleared)
	s.cleared = make(chan struct{})
}

// SetBank adds or replaces the bank of unit.
func (s *Server) SetBank(unit byte, b Bank) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.banks[unit] = b
}

// admit applies the unit's fault before a request; it returns the bank, whether to garble, or the
// error to answer with.
func (s *Server) admit(unit byte) (Bank, bool, error) {
	for {
		s.mu.Lock()
		f, bank, cleared, running := s.faults[unit], s.banks[unit], s.cleared, s.srv != nil
		s.mu.Unlock()
		if !running {
			// Stopped: release requests held by a silent fault for good, or their handlers leak.
			return nil, false, sv.ErrServerDeviceFailure
		}
		if f.Silent {
			<-cleared
			continue
		}
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-cleared:
			}
		}
		if f.BusyTimes > 0 {
			s.mu.Lock()
			if cur, ok := s.faults[unit]; ok && cur.BusyTimes > 0 {
				cur.BusyTimes--
				s.faults[unit] = cur
				if cur == (Fault{}) {
					delete(s.faults, unit)
				}
			}
			s.mu.Unlock()
			return nil, false, sv.ErrServerDeviceBusy
		}
		if f.Exception != 0 {
			if e, ok := exceptions[f.Exception]; ok {
				return nil, false, e
			}
			return nil, false, sv.ErrServerDeviceFailure
		}
		if bank == nil {
			return nil, false, sv.ErrGWTargetFailedToRespond
		}
		return bank, f.Garbage, nil
	}
}

func (s *Server) mapError(err error) error {
	code := byte(2)
	if s.Errors != nil {
		code = s.Errors(err)
	}
	if e, ok := exceptions[code]; ok {
		return e
	}
	return sv.ErrServerDeviceFailure
}

type serverHandler struct{ s *Server }

func (h serverHandler) HandleHoldingRegisters(req *sv.HoldingRegistersRequest) ([]uint16, error) {
	bank, garble, err := h.s.admit(req.UnitId)
	if err != nil {
		return nil, err
	}
	if req.IsWrite {
		if err := bank.WriteRegisters(req.Addr, req.Args); err != nil {
			return nil, h.s.mapError(err)
		}
		return nil, nil
	}
	regs, err := bank.ReadRegisters(req.Addr, req.Quantity)
	if err != nil {
		return nil, h.s.mapError(err)
	}
	if garble {
		h.s.mu.Lock()
		for i := range regs {
			regs[i] = uint16(h.s.rng.Uint32())
		}
		h.s.mu.Unlock()
	}
	return regs, nil
}

// Input registers mirror holding registers: some clients read SunSpec maps with function 4.
func (h serverHandler) HandleInputRegisters(req *sv.InputRegistersRequest) ([]uint16, error) {
	return h.HandleHoldingRegisters(&sv.HoldingRegistersRequest{UnitId: req.UnitId, Addr: req.Addr, Quantity: req.Quantity})
}

func (h serverHandler) HandleCoils(*sv.CoilsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}

func (h serverHandler) HandleDiscreteInputs(*sv.DiscreteInputsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}
