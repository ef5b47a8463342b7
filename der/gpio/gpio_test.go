package gpio

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 6, 21, 12, 0, 0, 0, time.UTC)

// contactor wires a coil pin to a feedback pin through "contacts" that follow the coil when
// healthy; stuck freezes them.
type contactor struct {
	coil, fb *gpiotest.Pin
	stuck    bool
}

func (c *contactor) follow() {
	if c.stuck {
		return
	}
	c.fb.Lock()
	c.coil.Lock()
	c.fb.L = c.coil.L
	c.coil.Unlock()
	c.fb.Unlock()
}

func newContactor(name string) *contactor {
	return &contactor{coil: &gpiotest.Pin{N: name + "_COIL", Num: 17}, fb: &gpiotest.Pin{N: name + "_FB", Num: 27}}
}

func TestRelayFollowsCoilAndReportsFeedback(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewSim(t0)
	c := newContactor("PCC")
	r, err := NewRelay(RelayConfig{Name: "pcc", Coil: c.coil, Feedback: c.fb, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if closed, err := r.ReadSwitch(ctx); err != nil || closed {
		t.Fatalf("fresh relay reads %v %v, want open", closed, err)
	}
	if err := r.SetSwitch(ctx, true); err != nil {
		t.Fatal(err)
	}
	if c.coil.Read() != gpio.High {
		t.Fatal("coil not driven high to close")
	}
	c.follow()
	if closed, err := r.ReadSwitch(ctx); err != nil || !closed {
		t.Fatalf("closed relay reads %v %v", closed, err)
	}
	clk.Advance(time.Second)
	if err := r.SetSwitch(ctx, true); err != nil {
		t.Fatalf("refresh of a healthy relay: %v", err)
	}
}

func TestActiveLowPins(t *testing.T) {
	ctx := context.Background()
	c := newContactor("SHED")
	r, err := NewRelay(RelayConfig{Name: "shed", Coil: c.coil, CoilActiveLow: true, Feedback: c.fb, FeedbackActiveLow: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetSwitch(ctx, true); err != nil {
		t.Fatal(err)
	}
	if c.coil.Read() != gpio.Low {
		t.Fatal("active-low coil must go low to close")
	}
	c.follow()
	if closed, _ := r.ReadSwitch(ctx); !closed {
		t.Fatal("active-low feedback low must read closed")
	}
}

func TestStuckRelayIsReportedAfterSettle(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewSim(t0)
	c := newContactor("PCC")
	c.fb.L = gpio.High // welded closed
	c.stuck = true
	r, err := NewRelay(RelayConfig{Name: "pcc", Coil: c.coil, Feedback: c.fb, Settle: 100 * time.Millisecond, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetSwitch(ctx, false); err != nil {
		t.Fatalf("first open command: %v", err)
	}
	if err := r.Fault(ctx); err != nil {
		t.Fatalf("fault inside the settle time: %v", err)
	}
	clk.Advance(150 * time.Millisecond)
	if err := r.Fault(ctx); !errors.Is(err, ErrStuck) {
		t.Fatalf("Fault = %v, want ErrStuck", err)
	}
	if err := r.SetSwitch(ctx, false); !errors.Is(err, ErrStuck) || !strings.Contains(err.Error(), "pcc") {
		t.Fatalf("refresh of a stuck relay = %v, want ErrStuck naming the relay", err)
	}
	if closed, err := r.ReadSwitch(ctx); err != nil || !closed {
		t.Fatalf("a welded relay must read closed (the truth), got %v %v", closed, err)
	}
	c.stuck = false
	c.follow()
	if err := r.SetSwitch(ctx, false); err != nil {
		t.Fatalf("after the contacts freed: %v", err)
	}
}

func TestInterlockRefusesToCloseButNeverToOpen(t *testing.T) {
	ctx := context.Background()
	gen := newContactor("GEN")
	genRelay, err := NewRelay(RelayConfig{Name: "generator", Coil: gen.coil, Feedback: gen.fb})
	if err != nil {
		t.Fatal(err)
	}
	pcc := newContactor("PCC")
	pccRelay, err := NewRelay(RelayConfig{Name: "pcc", Coil: pcc.coil, Feedback: pcc.fb, Interlocks: []der.Switch{genRelay}})
	if err != nil {
		t.Fatal(err)
	}
	if err := genRelay.SetSwitch(ctx, true); err != nil {
		t.Fatal(err)
	}
	gen.follow()
	if err := pccRelay.SetSwitch(ctx, true); !errors.Is(err, ErrInterlock) {
		t.Fatalf("closing the PCC with the generator closed = %v, want ErrInterlock", err)
	}
	if pcc.coil.Read() != gpio.Low {
		t.Fatal("an interlocked relay was driven")
	}
	if err := pccRelay.SetSwitch(ctx, false); err != nil {
		t.Fatalf("opening is always allowed: %v", err)
	}
	if err := genRelay.SetSwitch(ctx, false); err != nil {
		t.Fatal(err)
	}
	gen.follow()
	if err := pccRelay.SetSwitch(ctx, true); err != nil {
		t.Fatalf("closing with the interlock open: %v", err)
	}
	pcc.follow()
	if err := pccRelay.SetSwitch(ctx, false); err != nil {
		t.Fatal(err)
	}
	pcc.follow()

	// A partner commanded closed a moment ago, its contact not moved yet, counts as closed.
	if err := genRelay.SetSwitch(ctx, true); err != nil {
		t.Fatal(err)
	}
	if on, _ := genRelay.ReadSwitch(ctx); on {
		t.Fatal("fixture: the generator's contact moved before follow")
	}
	if err := pccRelay.SetSwitch(ctx, true); !errors.Is(err, ErrInterlock) {
		t.Fatalf("closing the PCC while the generator is commanded closed = %v, want ErrInterlock", err)
	}
	if pcc.coil.Read() != gpio.Low {
		t.Fatal("the PCC coil was driven while the generator was closing")
	}
	if err := genRelay.SetSwitch(ctx, false); err != nil {
		t.Fatal(err)
	}
	gen.follow()

	// Two relays interlocked with each other, asked to close at the same moment: one closes.
	a, b := newContactor("A"), newContactor("B")
	aRelay, _ := NewRelay(RelayConfig{Name: "a", Coil: a.coil, Feedback: a.fb})
	bRelay, _ := NewRelay(RelayConfig{Name: "b", Coil: b.coil, Feedback: b.fb})
	aRelay.AddInterlock(bRelay)
	bRelay.AddInterlock(aRelay)
	for round := 0; round < 200; round++ {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, r := range []*Relay{aRelay, bRelay} {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = r.SetSwitch(ctx, true) }()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: both or neither closed: %v, %v", round, errs[0], errs[1])
		}
		if a.coil.Read() == gpio.High && b.coil.Read() == gpio.High {
			t.Fatalf("round %d: both coils driven closed", round)
		}
		_ = aRelay.SetSwitch(ctx, false)
		_ = bRelay.SetSwitch(ctx, false)
	}
}

func TestRelayWithoutFeedbackReportsCommand(t *testing.T) {
	ctx := context.Background()
	r, err := NewRelay(RelayConfig{Name: "ap", Coil: &gpiotest.Pin{N: "AP"}})
	if err != nil {
		t.Fatal(err)
	}
	if on, _ := r.ReadSwitch(ctx); on {
		t.Fatal("unknown state must read open")
	}
	_ = r.SetSwitch(ctx, true)
	if on, _ := r.ReadSwitch(ctx); !on {
		t.Fatal("commanded closed must read closed without feedback")
	}
	if _, err := NewRelay(RelayConfig{Name: "x"}); err == nil {
		t.Fatal("a relay without coil was accepted")
	}
}

func TestDebouncerHoldsThroughBounces(t *testing.T) {
	d := Debouncer{Window: 20 * time.Millisecond}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	steps := []struct {
		ms   int
		raw  bool
		want bool
	}{
		{0, false, false}, {5, true, false}, {8, false, false}, {10, true, false}, {25, true, false},
		{30, true, true}, {31, false, true}, {40, true, true}, {45, false, true}, {64, false, true}, {65, false, false},
	}
	for _, s := range steps {
		if got := d.Update(at(s.ms), s.raw); got != s.want {
			t.Fatalf("at %d ms raw %v: stable %v, want %v", s.ms, s.raw, got, s.want)
		}
	}
}

func TestInputDebouncesWithRun(t *testing.T) {
	clk := clock.NewSim(t0)
	p := &gpiotest.Pin{N: "GRID_OK", L: gpio.Low}
	var mu sync.Mutex
	var changes []bool
	in, err := NewInput(InputConfig{Name: "grid_present", Pin: p, ActiveLow: true, Debounce: 30 * time.Millisecond, Clock: clk,
		OnChange: func(active bool) { mu.Lock(); changes = append(changes, active); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); in.Run(ctx, 10*time.Millisecond) }()
	clk.BlockUntil(1)
	if v, _ := in.Read(ctx); !v {
		t.Fatal("active-low input low must read active")
	}
	_ = p.Out(gpio.High)
	for i := 0; i < 2; i++ {
		clk.Advance(10 * time.Millisecond)
		clk.BlockUntil(1)
	}
	if v, _ := in.Read(ctx); !v {
		t.Fatal("changed before the debounce window")
	}
	for i := 0; i < 3; i++ {
		clk.Advance(10 * time.Millisecond)
		clk.BlockUntil(1)
	}
	if v, _ := in.Read(ctx); v {
		t.Fatal("did not follow after the debounce window")
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 1 || changes[0] {
		t.Fatalf("changes reported %v, want one change to inactive", changes)
	}
}

type fixedMeter struct{ p, d units.Watts }

func (m fixedMeter) ReadLoadPower(context.Context) (units.Watts, units.Watts, error) {
	return m.p, m.d, nil
}

func TestLoadAdapter(t *testing.T) {
	ctx := context.Background()
	c := newContactor("LOAD1")
	r, err := NewRelay(RelayConfig{Name: "wifi", Coil: c.coil, Feedback: c.fb})
	if err != nil {
		t.Fatal(err)
	}
	nominal := &Load{Relay: r, Nominal: 40}
	if err := nominal.SetLoad(ctx, true); err != nil {
		t.Fatal(err)
	}
	c.follow()
	st, err := nominal.ReadLoad(ctx)
	if err != nil || !st.On || st.Power != 40 || st.Demand != 40 {
		t.Fatalf("nominal load %+v %v", st, err)
	}
	metered := &Load{Relay: r, Meter: fixedMeter{35, 38}}
	if st, err := metered.ReadLoad(ctx); err != nil || st.Power != 35 || st.Demand != 38 {
		t.Fatalf("metered load %+v %v", st, err)
	}
}

// pinBank serves gpiotest pins by name, as a rig does.
type pinBank struct {
	mu   sync.Mutex
	pins map[string]*gpiotest.Pin
	fail error
}

func (b *pinBank) HasPin(name string) bool { _, ok := b.pins[name]; return ok }
func (b *pinBank) ReadPin(name string) (gpio.Level, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return gpio.Low, b.fail
	}
	return b.pins[name].Read(), nil
}
func (b *pinBank) WritePin(name string, l gpio.Level) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	return b.pins[name].Out(l)
}

func TestRemotePinsOverTCP(t *testing.T) {
	ctx := context.Background()
	c := newContactor("PCC")
	bank := &pinBank{pins: map[string]*gpiotest.Pin{"PCC_COIL": c.coil, "PCC_FB": c.fb}}
	srv := NewPinServer(bank)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	rm := NewRemote(srv.Addr(), 500*time.Millisecond)
	defer rm.Close()
	r, err := NewRelay(RelayConfig{Name: "pcc", Coil: rm.Pin("PCC_COIL"), Feedback: rm.Pin("PCC_FB")})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetSwitch(ctx, true); err != nil {
		t.Fatal(err)
	}
	if c.coil.Read() != gpio.High {
		t.Fatal("remote coil not driven")
	}
	c.follow()
	if closed, err := r.ReadSwitch(ctx); err != nil || !closed {
		t.Fatalf("remote feedback %v %v", closed, err)
	}
	if _, err := rm.Pin("NOPE").ReadLevel(); !errors.Is(err, ErrRemote) {
		t.Fatalf("unknown pin: %v, want ErrRemote", err)
	}
	bank.mu.Lock()
	bank.fail = fmt.Errorf("line\nbroken")
	bank.mu.Unlock()
	if _, err := r.ReadSwitch(ctx); err == nil || !strings.Contains(err.Error(), "line broken") {
		t.Fatalf("bank failure not reported on one line: %v", err)
	}
	bank.mu.Lock()
	bank.fail = nil
	bank.mu.Unlock()

	// The server goes away (rig offline) and comes back on the same port: the client re-dials.
	addr := srv.Addr()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadSwitch(ctx); err == nil {
		t.Fatal("read from a stopped pin server succeeded")
	}
	if err := srv.Start(addr); err != nil {
		t.Fatal(err)
	}
	if closed, err := r.ReadSwitch(ctx); err != nil || !closed {
		t.Fatalf("after restart: %v %v", closed, err)
	}
}

func TestWireRoundTrip(t *testing.T) {
	for _, r := range []Request{{Op: OpIn, Pin: "GPIO17"}, {Op: OpRead, Pin: "A"}, {Op: OpOut, Pin: "PCC_COIL", Level: gpio.High}, {Op: OpOut, Pin: "X1", Level: gpio.Low}} {
		got, err := ParseRequest(r.String())
		if err != nil || got != r {
			t.Fatalf("%q: %+v %v", r.String(), got, err)
		}
	}
	for _, bad := range []string{"", "READ", "READ 1abc", "OUT A", "OUT A 2", "IN A B", "JUMP A", "READ " + strings.Repeat("A", 40)} {
		if _, err := ParseRequest(bad); err == nil {
			t.Errorf("request %q accepted", bad)
		}
	}
	if rep, err := ParseReply(OpRead, "L 1"); err != nil || rep.Level != gpio.High {
		t.Fatal(rep, err)
	}
	if _, err := ParseReply(OpRead, "OK"); err == nil {
		t.Fatal("OK accepted as a READ reply")
	}
	if rep, err := ParseReply(OpOut, "ERR stuck"); !errors.Is(err, ErrRemote) || rep.Err != "stuck" {
		t.Fatal(rep, err)
	}
}
