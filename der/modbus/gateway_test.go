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

func TestGatewayLimitsConcurrentRequests(t *testing.T) {
	s := start(t, map[byte]Bank{1: &regs{}, 2: &regs{}})
	s.SetFault(1, Fault{Delay: 60 * time.Millisecond})
	s.SetFault(2, Fault{Delay: 60 * time.Millisecond})
	for _, tc := range []struct {
		conns   int
		atLeast time.Duration
		atMost  time.Duration
	}{{1, 115 * time.Millisecond, time.Second}, {2, 55 * time.Millisecond, 115 * time.Millisecond}} {
		g, err := NewGateway(Config{Address: s.Addr(), MaxConcurrent: tc.conns})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
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
		d := time.Since(start)
		g.Close()
		if d < tc.atLeast || d > tc.atMost {
			t.Errorf("%d connection(s): two 60 ms requests took %v, want %v..%v", tc.conns, d, tc.atLeast, tc.atMost)
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
