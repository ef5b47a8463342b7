package mesh

import "sync/atomic"

type subscription struct {
	r       *router
	code    Code
	ch      chan Message
	dropped atomic.Uint64
	closed  bool
}

func (s *subscription) C() <-chan Message { return s.ch }
func (s *subscription) Dropped() uint64   { return s.dropped.Load() }

func (s *subscription) Close() {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.closed {
		return
	}
	list := s.r.subs[s.code]
	for i, x := range list {
		if x == s {
			s.r.subs[s.code] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	s.closeLocked()
}

func (s *subscription) closeLocked() {
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

// Subscribe implements Mesh.Subscribe. On a closed mesh the subscription's channel is closed.
func (r *router) Subscribe(code Code) Subscription {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &subscription{r: r, code: code, ch: make(chan Message, r.opt.SubBuffer)}
	if r.closed {
		s.closeLocked()
		return s
	}
	r.subs[code] = append(r.subs[code], s)
	return s
}

// deliver hands m to every subscriber of its code, dropping a slow subscriber's oldest message
// rather than blocking the mesh. Called with the router's lock held: the only sender.
func (r *router) deliver(m Message) {
	for _, s := range r.subs[m.Code] {
		for {
			select {
			case s.ch <- m:
			default:
				select {
				case <-s.ch:
					s.dropped.Add(1)
				default:
				}
				continue
			}
			break
		}
	}
}

type peerSub struct {
	r      *router
	ch     chan PeerEvent
	closed bool
}

func (s *peerSub) C() <-chan PeerEvent { return s.ch }

func (s *peerSub) Close() {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	for i, x := range s.r.peerSubs {
		if x == s {
			s.r.peerSubs = append(s.r.peerSubs[:i:i], s.r.peerSubs[i+1:]...)
			break
		}
	}
	s.closeLocked()
}

func (s *peerSub) closeLocked() {
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

// PeerEvents implements Mesh.PeerEvents.
func (r *router) PeerEvents() PeerSubscription {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &peerSub{r: r, ch: make(chan PeerEvent, r.opt.SubBuffer)}
	if r.closed {
		s.closeLocked()
		return s
	}
	r.peerSubs = append(r.peerSubs, s)
	return s
}

// emit sends a peer event, dropping the oldest for a slow reader.
func (r *router) emit(ev PeerEvent) {
	for _, s := range r.peerSubs {
		select {
		case s.ch <- ev:
		default:
			select {
			case <-s.ch:
			default:
			}
			select {
			case s.ch <- ev:
			default:
			}
		}
	}
}
