package sunspec

import (
	"context"
	"testing"
	"time"

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
