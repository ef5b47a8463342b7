package firmware

import (
	"net/http"
	"sync"
	"time"
)

// Observer sees the unit's status after every control cycle, on the control loop's goroutine. It must
// return at once (hand the status to its own goroutine, or drop it): the next cycle waits for it.
// took is the wall time the cycle took to read, step and write.
type Observer interface {
	Observe(st *Status, took time.Duration)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(st *Status, took time.Duration)

// Observe calls f.
func (f ObserverFunc) Observe(st *Status, took time.Duration) { f(st, took) }

// Stopper is an observer that has something to finish when the daemon stops (a last write, a goodbye
// message). Stop is called once, after the last cycle.
type Stopper interface {
	Stop()
}

// ops holds what operations add to a daemon: observers of its cycles and routes beside the API.
type ops struct {
	mu        sync.Mutex
	observers []Observer
	routes    []route
	stopped   bool
}

type route struct {
	pattern string
	handler http.Handler
}

// AddObserver has o see every cycle from the next one on. Add observers before Run.
func (d *Daemon) AddObserver(o Observer) {
	d.ops.mu.Lock()
	defer d.ops.mu.Unlock()
	d.ops.observers = append(d.ops.observers, o)
}

// Mount serves h at pattern (an http.ServeMux pattern) beside the API. Mount before Handler or Run.
func (d *Daemon) Mount(pattern string, h http.Handler) {
	d.ops.mu.Lock()
	defer d.ops.mu.Unlock()
	d.ops.routes = append(d.ops.routes, route{pattern, h})
}

// observe hands the status of the cycle just run to every observer. With none, it costs nothing: the
// status is copied only when someone looks.
func (d *Daemon) observe(took time.Duration) {
	d.ops.mu.Lock()
	observers := d.ops.observers
	d.ops.mu.Unlock()
	if len(observers) == 0 {
		return
	}
	st := d.unit.Status()
	for _, o := range observers {
		o.Observe(&st, took)
	}
}

func (d *Daemon) mountOps(mux *http.ServeMux) {
	d.ops.mu.Lock()
	defer d.ops.mu.Unlock()
	for _, r := range d.ops.routes {
		mux.Handle(r.pattern, r.handler)
	}
}

// stopOps stops the observers that have something to finish, in the order they were added.
func (d *Daemon) stopOps() {
	d.ops.mu.Lock()
	if d.ops.stopped {
		d.ops.mu.Unlock()
		return
	}
	d.ops.stopped = true
	observers := d.ops.observers
	d.ops.mu.Unlock()
	for _, o := range observers {
		if s, ok := o.(Stopper); ok {
			s.Stop()
		}
	}
}

// Cycle returns the daemon's control cycle.
func (d *Daemon) Cycle() time.Duration { return d.cycle }

// StopObservers stops the observers as Run does when it returns; for loops driven by Tick.
func (d *Daemon) StopObservers() { d.stopOps() }
