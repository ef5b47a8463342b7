package transport

import (
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common"
)

// Hub connects in-process endpoints; each endpoint delivers its incoming frames in order from
// one goroutine.
type Hub struct {
	mu        sync.Mutex
	endpoints map[common.Address]*Endpoint
	down      map[[2]common.Address]bool
}

// NewHub makes an empty hub.
func NewHub() *Hub {
	return &Hub{endpoints: map[common.Address]*Endpoint{}, down: map[[2]common.Address]bool{}}
}

// SetLink cuts (up=false) or restores the link between a and b; frames sent over a cut link are dropped.
func (h *Hub) SetLink(a, b common.Address, up bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down[[2]common.Address{a, b}] = !up
	h.down[[2]common.Address{b, a}] = !up
}

// Endpoint is one unit's attachment to a Hub.
type Endpoint struct {
	hub     *Hub
	addr    common.Address
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []inFrame
	handler Handler
	closed  bool
	done    chan struct{}
}

type inFrame struct {
	from  common.Address
	frame []byte
}

// Join attaches addr to the hub.
func (h *Hub) Join(addr common.Address) *Endpoint {
	e := &Endpoint{hub: h, addr: addr, done: make(chan struct{})}
	e.cond = sync.NewCond(&e.mu)
	h.mu.Lock()
	h.endpoints[addr] = e
	h.mu.Unlock()
	go e.deliver()
	return e
}

// SetHandler implements Transport.
func (e *Endpoint) SetHandler(h Handler) {
	e.mu.Lock()
	e.handler = h
	e.mu.Unlock()
	e.cond.Broadcast()
}

// Send implements Transport.
func (e *Endpoint) Send(to common.Address, frame []byte) error {
	e.hub.mu.Lock()
	dst, ok := e.hub.endpoints[to]
	down := e.hub.down[[2]common.Address{e.addr, to}]
	e.hub.mu.Unlock()
	if !ok {
		return fmt.Errorf("inproc: unknown peer %s", to)
	}
	if down {
		return nil
	}
	dst.mu.Lock()
	if !dst.closed {
		dst.queue = append(dst.queue, inFrame{from: e.addr, frame: append([]byte(nil), frame...)})
	}
	dst.mu.Unlock()
	dst.cond.Signal()
	return nil
}

func (e *Endpoint) deliver() {
	defer close(e.done)
	for {
		e.mu.Lock()
		for !e.closed && (len(e.queue) == 0 || e.handler == nil) {
			e.cond.Wait()
		}
		if e.closed {
			e.mu.Unlock()
			return
		}
		batch := e.queue
		e.queue = nil
		h := e.handler
		e.mu.Unlock()
		for _, f := range batch {
			h(f.from, f.frame)
		}
	}
}

// Close detaches the endpoint; queued frames are dropped.
func (e *Endpoint) Close() error {
	e.hub.mu.Lock()
	if e.hub.endpoints[e.addr] == e {
		delete(e.hub.endpoints, e.addr)
	}
	e.hub.mu.Unlock()
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.cond.Broadcast()
	<-e.done
	return nil
}
