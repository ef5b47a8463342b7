package modbus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fractals-energy/fractals/der"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// regs is a plain bank of 100 registers from address 0.
type regs struct {
	mu sync.Mutex
	r  [100]uint16
}

func (b *regs) ReadRegisters(addr, n uint16) ([]uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if int(addr)+int(n) > len(b.r) {
		return nil, errors.New("out of range")
	}
	return append([]uint16(nil), b.r[addr:addr+n]...), nil
}

func (b *regs) WriteRegisters(addr uint16, vals []uint16) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if int(addr)+len(vals) > len(b.r) {
		return errors.New("out of range")
	}
	copy(b.r[addr:], vals)
	return nil
}

func start(t *testing.T, banks map[byte]Bank) *Server {
	t.Helper()
	s := NewServer(banks, 7)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// meetingBank holds each read until a second one is in flight (or a while has passed), and records
// the most reads it ever saw at once: concurrency measured at the device, not by timing.
type meetingBank struct {
	regs
	mu       sync.Mutex
	inFlight int
	most     int
	met      chan struct{}
}

func (b *meetingBank) ReadRegisters(addr, n uint16) ([]uint16, error) {
	b.mu.Lock()
	b.inFlight++
	b.most = max(b.most, b.inFlight)
	if b.inFlight == 2 {
		close(b.met)
	}
	b.mu.Unlock()
	select {
	case <-b.met:
	case <-time.After(time.Second):
	}
	b.mu.Lock()
	b.inFlight--
	b.mu.Unlock()
	return b.regs.ReadRegisters(addr, n)
}

func TestGatewayLimitsConcurrentRequests(t *testing.T) {
	for _, conns := range []int{1, 2} {
		bank := &meetingBank{met: make(chan struct{})}
		s := start(t, map[byte]Bank{1: bank, 2: bank})
		g, err := NewGateway(Config{Address: s.Addr(), MaxConcurrent: conns, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, id := range []byte{1, 2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := g.Unit(id).ReadHoldingRegisters(context.Background(), 0, 4); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		g.Close()
		if bank.most != conns {
			t.Errorf("%d connection(s): the device saw %d requests at once, want %d", conns, bank.most, conns)
		}
	}
}

func TestUnitErrorsAndBackoff(t *testing.T) {
	b := &regs{}
	s := start(t, map[byte]Bank{1: b})
	g, err := NewGateway(Config{Address: s.Addr(), Timeout: 80 * time.Millisecond, BackoffMin: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx := context.Background()
	u := g.Unit(1)
	if err := u.WriteMultipleRegisters(ctx, 10, []uint16{7, 8}); err != nil {
		t.Fatal(err)
	}
	got, err := u.ReadHoldingRegisters(ctx, 10, 2)
	if err != nil || got[0] != 7 || got[1] != 8 {
		t.Fatalf("read back %v %v", got, err)
	}
	if _, err := g.Unit(5).ReadHoldingRegisters(ctx, 0, 1); ExceptionCode(err) != 11 {
		t.Errorf("unknown unit: %v, want exception 11", err)
	}
	if _, err := u.ReadHoldingRegisters(ctx, 99, 5); ExceptionCode(err) != 2 {
		t.Errorf("out of range: %v, want exception 2", err)
	}
	if err := u.WriteMultipleRegisters(ctx, 0, nil); err == nil {
		t.Error("empty write accepted")
	}
	s.SetFault(1, Fault{Silent: true})
	if _, err := u.ReadHoldingRegisters(ctx, 0, 1); err == nil || errors.Is(err, der.ErrStale) {
		t.Errorf("silent unit: %v, want a timeout", err)
	}
	if failing, n := u.Failing(); !failing || n != 1 {
		t.Errorf("failing %v %d", failing, n)
	}
	if _, err := u.ReadHoldingRegisters(ctx, 0, 1); !errors.Is(err, der.ErrStale) {
		t.Errorf("unit in back-off: %v, want ErrStale", err)
	}
	// Other units on the same gateway are not held back by it.
	s.SetFault(1, Fault{})
	if _, err := g.Unit(5).ReadHoldingRegisters(ctx, 0, 1); ExceptionCode(err) != 11 {
		t.Errorf("other unit during back-off: %v", err)
	}
}

// A device that drops connections (after each reply, when idle, with FIN or with a reset) costs
// one redial, never a failure or a back-off.
func TestDroppedConnectionIsRedialledOnce(t *testing.T) {
	for _, f := range []ConnFault{
		{CloseAfter: 1},
		{CloseAfter: 1, Reset: true},
		{CloseAfter: 3},
		{IdleClose: 30 * time.Millisecond},
		{IdleClose: 30 * time.Millisecond, Reset: true},
	} {
		s := start(t, map[byte]Bank{1: &regs{}})
		s.SetConnFault(f)
		g, err := NewGateway(Config{Address: s.Addr(), Timeout: time.Second, BackoffMin: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		u := g.Unit(1)
		for i := 0; i < 6; i++ {
			if f.IdleClose > 0 {
				time.Sleep(2 * f.IdleClose)
			}
			if err := u.WriteMultipleRegisters(context.Background(), 1, []uint16{uint16(i)}); err != nil {
				t.Errorf("%+v: write %d: %v", f, i, err)
			}
			if got, err := u.ReadHoldingRegisters(context.Background(), 1, 1); err != nil || got[0] != uint16(i) {
				t.Errorf("%+v: read %d: %v %v", f, i, got, err)
			}
		}
		if failing, n := u.Failing(); failing {
			t.Errorf("%+v: unit failing after %d dropped connections", f, n)
		}
		g.Close()
		s.Stop()
	}
}

// A device that is gone is still a failure after the one redial: the retry hides dropped
// connections, not dead devices.
func TestRedialDoesNotHideADeadDevice(t *testing.T) {
	s := start(t, map[byte]Bank{1: &regs{}})
	s.SetConnFault(ConnFault{CloseAfter: 1})
	g, err := NewGateway(Config{Address: s.Addr(), Timeout: 200 * time.Millisecond, BackoffMin: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	u := g.Unit(1)
	if _, err := u.ReadHoldingRegisters(context.Background(), 0, 1); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if _, err := u.ReadHoldingRegisters(context.Background(), 0, 1); err == nil {
		t.Fatal("read from a stopped server succeeded")
	}
	if failing, n := u.Failing(); !failing || n != 1 {
		t.Errorf("failing %v after %d failures, want one failure", failing, n)
	}
}

// Exception 6 (busy) is asked again BusyDelay later, at most BusyRetries times.
func TestBusyDeviceIsAskedAgain(t *testing.T) {
	s := start(t, map[byte]Bank{1: &regs{}})
	const delay = 40 * time.Millisecond
	g, err := NewGateway(Config{Address: s.Addr(), BusyRetries: 2, BusyDelay: delay, BackoffMin: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	u := g.Unit(1)
	ctx := context.Background()

	s.SetFault(1, Fault{BusyTimes: 1})
	t0 := time.Now()
	if _, err := u.ReadHoldingRegisters(ctx, 0, 2); err != nil {
		t.Errorf("busy once: %v, want the retry to succeed", err)
	}
	if d := time.Since(t0); d < delay {
		t.Errorf("busy once: answered after %v, want at least the busy delay %v", d, delay)
	}
	s.SetFault(1, Fault{BusyTimes: 2})
	if err := u.WriteMultipleRegisters(ctx, 0, []uint16{5}); err != nil {
		t.Errorf("busy twice (2 retries): %v", err)
	}
	s.SetFault(1, Fault{BusyTimes: 3})
	t0 = time.Now()
	if _, err := u.ReadHoldingRegisters(ctx, 0, 2); ExceptionCode(err) != 6 {
		t.Errorf("busy three times: %v, want exception 6 after 2 retries", err)
	}
	if d := time.Since(t0); d < 2*delay {
		t.Errorf("busy three times: gave up after %v, want 2 delays (%v)", d, 2*delay)
	}
	if got, err := u.ReadHoldingRegisters(ctx, 0, 1); err != nil || got[0] != 5 {
		t.Errorf("after busy: %v %v (busy must not start a back-off)", got, err)
	}
	g2, err := NewGateway(Config{Address: s.Addr(), BusyRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Close()
	s.SetFault(1, Fault{BusyTimes: 1})
	if _, err := g2.Unit(1).ReadHoldingRegisters(ctx, 0, 1); ExceptionCode(err) != 6 {
		t.Errorf("BusyRetries -1: %v, want exception 6 at once", err)
	}
}

// A single-client device: the gateway (MaxConcurrent 1) keeps its one connection working, even
// when the device drops it now and then, and a second client is told why it is turned away.
func TestSingleClientDevice(t *testing.T) {
	s := start(t, map[byte]Bank{1: &regs{}})
	s.SetConnFault(ConnFault{MaxClients: 1, CloseAfter: 4})
	own, err := NewGateway(Config{Address: s.Addr(), MaxConcurrent: 1, BackoffMin: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	other, err := NewGateway(Config{Address: s.Addr(), BackoffMin: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if _, err := own.Unit(1).ReadHoldingRegisters(ctx, 0, 2); err != nil {
			t.Fatalf("own read %d: %v", i, err)
		}
		if i%4 == 1 { // between the device's drops, own holds the connection
			_, err := other.Unit(1).ReadHoldingRegisters(ctx, 0, 2)
			if !errors.Is(err, ErrOneClient) {
				t.Errorf("second client: %v, want ErrOneClient", err)
			}
		}
	}
	if failing, _ := own.Unit(1).Failing(); failing {
		t.Error("the first client's unit is failing")
	}
}
