package sunspec

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/modbus"
)

// serve starts a real Modbus TCP server on a loopback port with the given maps as unit ids.
func serve(t testing.TB, maps map[byte]*Map) *modbus.Server {
	t.Helper()
	banks := map[byte]modbus.Bank{}
	for id, m := range maps {
		banks[id] = m
	}
	srv := modbus.NewServer(banks, 1)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv
}

func gateway(t testing.TB, addr string) *modbus.Gateway {
	t.Helper()
	g, err := modbus.NewGateway(modbus.Config{Address: addr, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func TestOverModbusTCP(t *testing.T) {
	m := hybridMap(t)
	srv := serve(t, map[byte]*Map{1: m})
	g := gateway(t, srv.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := g.Unit(1)
	base, hs, err := Discover(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if base != 40000 || len(hs) != 10 {
		t.Fatalf("base %d, %d models", base, len(hs))
	}
	b, err := ReadModel(ctx, u, hs[0])
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := b.Get("SN"); v.Text != "MB-0001" {
		t.Errorf("SN %q", v.Text)
	}
	// Model 701 is longer than one Modbus read (155 registers): it is read in two requests.
	if _, err := ReadModel(ctx, u, hs[7]); err != nil {
		t.Fatalf("model 701: %v", err)
	}
	if err := Write(ctx, u, hs[3], Set{Path: "WMaxLimPct", Value: 30}, Set{Path: "WMaxLim_Ena", Value: 1}); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Get(123, "WMaxLimPct"); v.Number != 30 {
		t.Errorf("WMaxLimPct on the server %v", v.Number)
	}
	// A unit id the gateway does not serve answers with an exception, not a timeout.
	if _, _, err := Discover(ctx, g.Unit(9)); !modbus.IsException(err) || modbus.ExceptionCode(err) != 11 {
		t.Errorf("unknown unit: %v", err)
	}
}

// silentAbove is a bank that does not answer for registers at or above from (it holds the
// reply longer than the client waits), as devices do that serve their map at 0 only.
type silentAbove struct {
	*Map
	from uint16
	hold time.Duration
}

func (s silentAbove) ReadRegisters(addr, n uint16) ([]uint16, error) {
	if addr >= s.from {
		time.Sleep(s.hold)
		return nil, ErrIllegalAddress
	}
	return s.Map.ReadRegisters(addr, n)
}

// mapAtZero serves models 1 and 103 with "SunS" at register 0.
func mapAtZero(t testing.TB) *Map {
	t.Helper()
	m, err := NewMap(0, ModelSpec{ID: 1}, ModelSpec{ID: 103})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Set(103, "W_SF", 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(103, "W", 1234); err != nil {
		t.Fatal(err)
	}
	return m
}

// A timeout at 40000 must not put the unit in back-off before 0 and 50000 are tried: the poller
// (the daemon's path) and a scan both find a map at 0.
func TestDiscoverAfterATimeoutAt40000(t *testing.T) {
	srv := modbus.NewServer(map[byte]modbus.Bank{1: silentAbove{mapAtZero(t), 40000, 400 * time.Millisecond}}, 1)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	g, err := modbus.NewGateway(modbus.Config{Address: srv.Addr(), Timeout: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := g.Unit(1)
	dev := NewDevice("pv", u, Schedule{}, nil, time.Minute)
	if err := dev.Poll(ctx); err != nil {
		t.Fatalf("poll: %v", err)
	}
	b, err := dev.Block(103)
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := b.Number("W"); !ok || w != 1234 {
		t.Errorf("W %v %v", w, ok)
	}
	if failing, _ := u.Failing(); failing {
		t.Error("unit left in back-off although its map was found")
	}
	res, err := Scan(ctx, g.Unit(1))
	if err != nil || res.Base != 0 || len(res.Models) != 2 {
		t.Fatalf("scan %+v, %v", res, err)
	}
}

// A unit that answers at none of the base addresses goes into back-off once all were tried.
func TestDiscoverBacksOffWhenNoBaseAnswers(t *testing.T) {
	srv := modbus.NewServer(map[byte]modbus.Bank{1: mapAtZero(t)}, 1)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	srv.SetFault(1, modbus.Fault{Silent: true})
	g, err := modbus.NewGateway(modbus.Config{Address: srv.Addr(), Timeout: 50 * time.Millisecond, BackoffMin: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx := context.Background()
	u := g.Unit(1)
	start := time.Now()
	if _, _, err := Discover(ctx, u); err == nil {
		t.Fatal("silent unit discovered")
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("discovery gave up after %v: not all three addresses were probed", took)
	}
	if failing, n := u.Failing(); !failing || n != 1 {
		t.Errorf("failing %v after %d failures, want one failure for the round", failing, n)
	}
	if _, _, err := Discover(ctx, u); !errors.Is(err, der.ErrStale) {
		t.Errorf("second discovery during back-off: %v, want ErrStale at once", err)
	}
}

// An installer scanning a single-client inverter while the daemon polls it: the scan is turned
// away with an error that says why, and the daemon's polling goes on undisturbed.
func TestScanOfSingleClientDeviceWhileDaemonPolls(t *testing.T) {
	srv := serve(t, map[byte]*Map{1: hybridMap(t)})
	srv.SetConnFault(modbus.ConnFault{MaxClients: 1})
	daemonGW, err := modbus.NewGateway(modbus.Config{Address: srv.Addr(), MaxConcurrent: 1, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer daemonGW.Close()
	dev := NewDevice("hybrid", daemonGW.Unit(1), Schedule{}, nil, time.Minute)
	ctx := context.Background()
	if err := dev.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	polled := make(chan []error)
	go func() {
		var errs []error
		for {
			select {
			case <-stop:
				polled <- errs
				return
			case <-time.After(5 * time.Millisecond):
			}
			if err := dev.Poll(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}()
	_, scanErr := Scan(ctx, gateway(t, srv.Addr()).Unit(1))
	time.Sleep(50 * time.Millisecond)
	close(stop)
	if errs := <-polled; len(errs) > 0 {
		t.Errorf("daemon polls disturbed by the scan: %v", errs)
	}
	if !errors.Is(scanErr, modbus.ErrOneClient) || !strings.Contains(scanErr.Error(), "one TCP client") {
		t.Errorf("scan of a single-client device in use: %v, want an error saying it serves one client", scanErr)
	}
}
