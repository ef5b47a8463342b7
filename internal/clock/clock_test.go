package clock

import (
	"sync"
	"testing"
	"time"
)

var epoch = time.Date(2026, 6, 21, 0, 0, 0, 0, time.UTC)

func TestSimTimersFireInOrder(t *testing.T) {
	s := NewSim(epoch)
	late := s.NewTimer(3 * time.Second)
	early := s.NewTimer(1 * time.Second)
	s.Advance(999 * time.Millisecond)
	select {
	case <-early.C():
		t.Fatal("timer fired before its deadline")
	default:
	}
	s.Advance(time.Millisecond)
	if got := <-early.C(); !got.Equal(epoch.Add(time.Second)) {
		t.Fatalf("early fired at %v", got)
	}
	s.Advance(5 * time.Second)
	if got := <-late.C(); !got.Equal(epoch.Add(3 * time.Second)) {
		t.Fatalf("late fired at %v, want its own deadline", got)
	}
	if !s.Now().Equal(epoch.Add(6 * time.Second)) {
		t.Fatalf("now = %v", s.Now())
	}
}

func TestSimTimerStopAndReset(t *testing.T) {
	s := NewSim(epoch)
	tm := s.NewTimer(time.Second)
	if !tm.Stop() {
		t.Fatal("Stop of an armed timer reported inactive")
	}
	if tm.Stop() {
		t.Fatal("second Stop reported active")
	}
	s.Advance(2 * time.Second)
	select {
	case <-tm.C():
		t.Fatal("stopped timer fired")
	default:
	}
	if tm.Reset(time.Second) {
		t.Fatal("Reset of a stopped timer reported active")
	}
	s.Advance(time.Second)
	<-tm.C()
}

func TestSimTickerDropsTicksForSlowReader(t *testing.T) {
	s := NewSim(epoch)
	tk := s.NewTicker(time.Second)
	s.Advance(10 * time.Second)
	if got := <-tk.C(); !got.Equal(epoch.Add(time.Second)) {
		t.Fatalf("first buffered tick at %v", got)
	}
	select {
	case <-tk.C():
		t.Fatal("more than one tick buffered")
	default:
	}
	s.Advance(time.Second)
	if got := <-tk.C(); !got.Equal(epoch.Add(11 * time.Second)) {
		t.Fatalf("tick at %v, want 11 s", got)
	}
	tk.Reset(5 * time.Second)
	s.Advance(4 * time.Second)
	select {
	case <-tk.C():
		t.Fatal("reset ticker fired early")
	default:
	}
	s.Advance(time.Second)
	<-tk.C()
	tk.Stop()
	if s.Waiters() != 0 {
		t.Fatalf("stopped ticker still armed: %d waiters", s.Waiters())
	}
}

func TestSimSleepWakesOnAdvance(t *testing.T) {
	s := NewSim(epoch)
	var wg sync.WaitGroup
	wg.Add(1)
	var woke time.Time
	go func() {
		defer wg.Done()
		s.Sleep(time.Minute)
		woke = s.Now()
	}()
	s.BlockUntil(1)
	s.Advance(time.Minute)
	wg.Wait()
	if !woke.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("woke at %v", woke)
	}
}

func TestZeroTimerFiresImmediately(t *testing.T) {
	s := NewSim(epoch)
	select {
	case <-s.After(0):
	default:
		t.Fatal("zero-duration timer did not fire at once")
	}
}

func TestRealClockMoves(t *testing.T) {
	var c Clock = Real{}
	start := c.Now()
	<-c.After(time.Millisecond)
	if c.Since(start) < time.Millisecond {
		t.Fatal("real clock did not move")
	}
	tk := c.NewTicker(time.Millisecond)
	<-tk.C()
	tk.Stop()
	tm := c.NewTimer(time.Hour)
	if !tm.Stop() {
		t.Fatal("real timer stop")
	}
}
