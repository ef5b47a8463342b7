package clock

import (
	"container/heap"
	"sync"
	"time"
)

// Sim is a simulated clock: time stands still until Advance, AdvanceTo or Set moves it. Timers and
// tickers whose deadlines are passed fire in deadline order, each seeing Now equal to its deadline.
// It is safe for concurrent use.
type Sim struct {
	mu      sync.Mutex
	now     time.Time
	waiters waitHeap
	seq     uint64 // breaks ties between equal deadlines in creation order
	changed *sync.Cond
}

// NewSim returns a simulated clock that reads start.
func NewSim(start time.Time) *Sim {
	s := &Sim{now: start}
	s.changed = sync.NewCond(&s.mu)
	return s
}

// Now returns the simulated time.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Since returns the simulated time elapsed since t.
func (s *Sim) Since(t time.Time) time.Duration { return s.Now().Sub(t) }

// NewTimer returns a timer that fires when the clock passes Now()+d.
func (s *Sim) NewTimer(d time.Duration) Timer {
	w := &waiter{clock: s, ch: make(chan time.Time, 1)}
	s.mu.Lock()
	s.schedule(w, d)
	s.mu.Unlock()
	return w
}

// NewTicker returns a ticker with the given period, which must be positive.
func (s *Sim) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker period") // same contract as time.NewTicker
	}
	w := &waiter{clock: s, ch: make(chan time.Time, 1), period: d}
	s.mu.Lock()
	s.schedule(w, d)
	s.mu.Unlock()
	return &simTicker{w}
}

// After returns a channel that receives the time once the clock passes Now()+d.
func (s *Sim) After(d time.Duration) <-chan time.Time { return s.NewTimer(d).C() }

// Sleep blocks until another goroutine advances the clock past Now()+d.
func (s *Sim) Sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	<-s.After(d)
}

// Waiters is the number of armed timers, tickers and sleepers. Tests use it to wait until a goroutine
// under test has gone to sleep before advancing the clock.
func (s *Sim) Waiters() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiters)
}

// BlockUntil waits until at least n timers, tickers or sleepers are armed.
func (s *Sim) BlockUntil(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.waiters) < n {
		s.changed.Wait()
	}
}

// Advance moves the clock forward by d, firing everything due on the way.
func (s *Sim) Advance(d time.Duration) { s.AdvanceTo(s.Now().Add(d)) }

// AdvanceTo moves the clock forward to t, firing everything due on the way. A t in the past is ignored.
func (s *Sim) AdvanceTo(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.waiters) > 0 && !s.waiters[0].deadline.After(t) {
		w := heap.Pop(&s.waiters).(*waiter)
		w.index = -1
		if w.deadline.After(s.now) {
			s.now = w.deadline
		}
		select {
		case w.ch <- s.now:
		default: // a slow reader misses a tick, as with time.Ticker
		}
		if w.period > 0 {
			s.schedule(w, w.period)
		}
	}
	if t.After(s.now) {
		s.now = t
	}
}

// Set moves the clock to t, firing everything due; unlike AdvanceTo it is meant for a jump the caller
// chose (a new simulated day), and it also ignores a t in the past.
func (s *Sim) Set(t time.Time) { s.AdvanceTo(t) }

func (s *Sim) schedule(w *waiter, d time.Duration) {
	s.seq++
	w.deadline = s.now.Add(d)
	w.seq = s.seq
	heap.Push(&s.waiters, w)
	s.changed.Broadcast()
	if d <= 0 {
		s.fireDue()
	}
}

// fireDue fires waiters already due without moving time (a timer of zero duration).
func (s *Sim) fireDue() {
	for len(s.waiters) > 0 && !s.waiters[0].deadline.After(s.now) && s.waiters[0].period == 0 {
		w := heap.Pop(&s.waiters).(*waiter)
		w.index = -1
		select {
		case w.ch <- s.now:
		default:
		}
	}
}

func (s *Sim) remove(w *waiter) bool {
	if w.index < 0 {
		return false
	}
	heap.Remove(&s.waiters, w.index)
	w.index = -1
	return true
}

type waiter struct {
	clock    *Sim
	ch       chan time.Time
	deadline time.Time
	period   time.Duration
	seq      uint64
	index    int
}

func (w *waiter) C() <-chan time.Time { return w.ch }

func (w *waiter) Stop() bool {
	w.clock.mu.Lock()
	defer w.clock.mu.Unlock()
	return w.clock.remove(w)
}

func (w *waiter) Reset(d time.Duration) bool {
	w.clock.mu.Lock()
	defer w.clock.mu.Unlock()
	active := w.clock.remove(w)
	w.clock.schedule(w, d)
	return active
}

type simTicker struct{ w *waiter }

func (t *simTicker) C() <-chan time.Time { return t.w.ch }
func (t *simTicker) Stop()               { t.w.Stop() }

func (t *simTicker) Reset(d time.Duration) {
	if d <= 0 {
		panic("clock: non-positive ticker period")
	}
	t.w.clock.mu.Lock()
	defer t.w.clock.mu.Unlock()
	t.w.clock.remove(t.w)
	t.w.period = d
	t.w.clock.schedule(t.w, d)
}

type waitHeap []*waiter

func (h waitHeap) Len() int { return len(h) }
func (h waitHeap) Less(i, j int) bool {
	if h[i].deadline.Equal(h[j].deadline) {
		return h[i].seq < h[j].seq
	}
	return h[i].deadline.Before(h[j].deadline)
}
func (h waitHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *waitHeap) Push(x any) {
	w := x.(*waiter)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *waitHeap) Pop() any {
	old := *h
	n := len(old)
	w := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return w
}
