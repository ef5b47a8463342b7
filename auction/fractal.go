package auction

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// The fractal option: the one-shot double auction up a cluster tree, PowerMatcher style, behind the same
// MarketPeer interface as the consensus peer, for one period. Every unit turns its bids (W, per kWh)
// into a curve on the community's price grid; a unit waits for its children's curves, adds its own and
// sends the sum to its parent; the root clears the sum at its equilibrium price and sends the price
// down the tree. Each unit then trades with its parent the net demand of its subtree at that price, and
// with each child the child's: both ends evaluate the same curve (the one sent) at the same price, so
// the two sides agree exactly. The root has a privileged role here, which is why consensus is the
// default; a child silent past ChildTimeout is dropped from its parent's sum.

// FractalConfig is one unit's place in the cluster tree for one interval.
type FractalConfig struct {
	ID       string
	Interval uint64
	Parent   string   // "" at the root
	Children []string // units whose curves this one aggregates
	Bids     []Bid    // the unit's own bids for the period: quantity in W, price per kWh
	Grid     PriceGrid
	// ChildTimeout drops children that sent no curve by then (default 2 s after Start): give a unit a
	// longer one than any of its children, or a silent leaf takes its whole branch out. PriceTimeout
	// gives up waiting for the price: no trades (default 10 s after Start).
	Start        time.Time
	ChildTimeout time.Duration
	PriceTimeout time.Duration
}

// Fractal message kinds (their own codec: DecodeFractalMessage).
const (
	KindCurve MessageKind = 3 // a subtree's net demand curve, child to parent
	KindPrice MessageKind = 4 // the cleared price, parent to child
)

// FractalMessage is a curve going up or a price going down.
type FractalMessage struct {
	Kind     MessageKind
	Interval uint64
	Curve    Curve   // KindCurve
	Price    float64 // KindPrice, per kWh
}

const fractalHeaderLen = 1 + 1 + 8

// MarshalBinary encodes m: version, kind, interval; a curve as grid min, max (float64), steps (4) and
// the demand (float64 each); a price as one float64.
func (m FractalMessage) MarshalBinary() ([]byte, error) {
	out := make([]byte, fractalHeaderLen)
	out[0], out[1] = peerMessageVersion, byte(m.Kind)
	binary.BigEndian.PutUint64(out[2:], m.Interval)
	switch m.Kind {
	case KindCurve:
		if err := checkCurve(m.Curve); err != nil {
			return nil, err
		}
		out = binary.BigEndian.AppendUint64(out, math.Float64bits(m.Curve.Grid.Min))
		out = binary.BigEndian.AppendUint64(out, math.Float64bits(m.Curve.Grid.Max))
		out = binary.BigEndian.AppendUint32(out, uint32(m.Curve.Grid.Steps))
		for _, d := range m.Curve.Demand {
			out = binary.BigEndian.AppendUint64(out, math.Float64bits(d))
		}
	case KindPrice:
		if math.IsNaN(m.Price) || math.Abs(m.Price) > maxPrice {
			return nil, fmt.Errorf("fractal message: price %v, want within ±%g", m.Price, float64(maxPrice))
		}
		out = binary.BigEndian.AppendUint64(out, math.Float64bits(m.Price))
	default:
		return nil, fmt.Errorf("fractal message: kind %d, want %d (curve) or %d (price)", m.Kind, KindCurve, KindPrice)
	}
	return out, nil
}

// maxCurveSteps bounds a curve on the wire.
const maxCurveSteps = 4096

func checkCurve(c Curve) error {
	if err := c.Grid.Validate(); err != nil {
		return fmt.Errorf("fractal message: %w", err)
	}
	if c.Grid.Steps > maxCurveSteps || len(c.Demand) != c.Grid.Steps {
		return fmt.Errorf("fractal message: curve of %d points on %d steps, want one per step, at most %d", len(c.Demand), c.Grid.Steps, maxCurveSteps)
	}
	if math.Abs(c.Grid.Min) > maxPrice || math.Abs(c.Grid.Max) > maxPrice {
		return fmt.Errorf("fractal message: price grid %g..%g beyond ±%g", c.Grid.Min, c.Grid.Max, float64(maxPrice))
	}
	for i, d := range c.Demand {
		if math.IsNaN(d) || math.Abs(d) > maxPower {
			return fmt.Errorf("fractal message: demand[%d] %v W, want within ±%g", i, d, float64(maxPower))
		}
		if i > 0 && d > c.Demand[i-1] {
			return fmt.Errorf("fractal message: demand[%d] %v above demand[%d] %v, want non-increasing", i, d, i-1, c.Demand[i-1])
		}
	}
	return nil
}

// DecodeFractalMessage decodes one fractal message strictly (exact length, a valid non-increasing
// curve, a finite price); errors say what and where.
func DecodeFractalMessage(data []byte) (FractalMessage, error) {
	if len(data) < fractalHeaderLen {
		return FractalMessage{}, fmt.Errorf("fractal message: %d bytes, want at least %d", len(data), fractalHeaderLen)
	}
	if data[0] != peerMessageVersion {
		return FractalMessage{}, fmt.Errorf("fractal message: version %d at byte 0, want %d", data[0], peerMessageVersion)
	}
	m := FractalMessage{Kind: MessageKind(data[1]), Interval: binary.BigEndian.Uint64(data[2:])}
	body := data[fractalHeaderLen:]
	switch m.Kind {
	case KindCurve:
		if len(body) < 20 {
			return FractalMessage{}, fmt.Errorf("fractal message: curve body %d bytes, want at least 20", len(body))
		}
		g := PriceGrid{Min: math.Float64frombits(binary.BigEndian.Uint64(body)), Max: math.Float64frombits(binary.BigEndian.Uint64(body[8:])),
			Steps: int(binary.BigEndian.Uint32(body[16:]))}
		if g.Steps > maxCurveSteps || len(body) != 20+8*g.Steps {
			return FractalMessage{}, fmt.Errorf("fractal message: curve body %d bytes for %d steps, want %d (at most %d steps)", len(body), g.Steps, 20+8*min(g.Steps, maxCurveSteps), maxCurveSteps)
		}
		m.Curve = Curve{Grid: g, Demand: make([]float64, g.Steps)}
		for i := range m.Curve.Demand {
			m.Curve.Demand[i] = math.Float64frombits(binary.BigEndian.Uint64(body[20+8*i:]))
		}
		if err := checkCurve(m.Curve); err != nil {
			return FractalMessage{}, err
		}
	case KindPrice:
		if len(body) != 8 {
			return FractalMessage{}, fmt.Errorf("fractal message: price body %d bytes, want 8", len(body))
		}
		m.Price = math.Float64frombits(binary.BigEndian.Uint64(body))
		if math.IsNaN(m.Price) || math.Abs(m.Price) > maxPrice {
			return FractalMessage{}, fmt.Errorf("fractal message: price %v, want within ±%g", m.Price, float64(maxPrice))
		}
	default:
		return FractalMessage{}, fmt.Errorf("fractal message: kind %d at byte 1, want %d (curve) or %d (price)", m.Kind, KindCurve, KindPrice)
	}
	return m, nil
}

// FractalPeer is one unit of the cluster tree for one interval. Create it with NewFractalPeer.
type FractalPeer struct {
	cfg      FractalConfig
	own      Curve
	children map[string]*Curve // nil until the child's curve arrives
	dropped  []string
	sentUp   bool
	outbox   []Outbound
	result   *IntervalResult
	reported bool
	sent     int
}

// NewFractalPeer validates cfg and, at a leaf, sends its curve up at once.
func NewFractalPeer(cfg FractalConfig) (*FractalPeer, error) {
	if cfg.ChildTimeout == 0 {
		cfg.ChildTimeout = 2 * time.Second
	}
	if cfg.PriceTimeout == 0 {
		cfg.PriceTimeout = 10 * time.Second
	}
	if cfg.ID == "" {
		return nil, errors.New("fractal peer: id empty")
	}
	own, err := cfg.Grid.CurveOf(cfg.Bids)
	if err != nil {
		return nil, fmt.Errorf("fractal peer %s: %w", cfg.ID, err)
	}
	p := &FractalPeer{cfg: cfg, own: own, children: map[string]*Curve{}}
	for _, c := range cfg.Children {
		if c == "" || c == cfg.ID || c == cfg.Parent {
			return nil, fmt.Errorf("fractal peer %s: child %q, want another unit than itself and its parent", cfg.ID, c)
		}
		if _, dup := p.children[c]; dup {
			return nil, fmt.Errorf("fractal peer %s: child %q listed twice", cfg.ID, c)
		}
		p.children[c] = nil
	}
	p.maybeSendUp()
	return p, nil
}

// Step handles a curve from a child or the price from the parent.
func (p *FractalPeer) Step(from string, payload []byte, now time.Time) error {
	m, err := DecodeFractalMessage(payload)
	if err != nil {
		return fmt.Errorf("from %s: %w", from, err)
	}
	if m.Interval != p.cfg.Interval {
		return fmt.Errorf("%w: %d from %s, this is %d", ErrOtherInterval, m.Interval, from, p.cfg.Interval)
	}
	switch {
	case m.Kind == KindCurve:
		c, ok := p.children[from]
		if !ok {
			return fmt.Errorf("%w: curve from %s, not a child", ErrNotNeighbour, from)
		}
		if c != nil || p.sentUp {
			return nil // a repeat, or too late: the sum has gone up
		}
		if m.Curve.Grid != p.own.Grid {
			return fmt.Errorf("from %s: curve on grid %+v, want %+v", from, m.Curve.Grid, p.own.Grid)
		}
		p.children[from] = &m.Curve
		p.maybeSendUp()
	case m.Kind == KindPrice && from == p.cfg.Parent && p.cfg.Parent != "":
		if p.result == nil {
			p.settle(m.Price)
		}
	default:
		return fmt.Errorf("%w: price from %s, not the parent", ErrNotNeighbour, from)
	}
	return nil
}

// Tick drops children that sent nothing in time and gives up on a price that never came.
func (p *FractalPeer) Tick(now time.Time) {
	if p.result != nil {
		return
	}
	if !p.sentUp && now.Sub(p.cfg.Start) >= p.cfg.ChildTimeout {
		for _, id := range p.cfg.Children {
			if p.children[id] == nil {
				delete(p.children, id)
				p.dropped = append(p.dropped, id)
			}
		}
		p.maybeSendUp()
	}
	if p.result == nil && now.Sub(p.cfg.Start) >= p.cfg.PriceTimeout {
		p.result = &IntervalResult{Interval: p.cfg.Interval, Reason: "no price from the parent", Dropped: p.dropped,
			MessagesSent: p.sent, Schedules: map[string][]float64{}}
	}
}

// Ready returns the messages to send and, once, the result.
func (p *FractalPeer) Ready() Ready {
	r := Ready{Messages: p.outbox}
	p.outbox = nil
	if p.result != nil && !p.reported {
		r.Result, p.reported = p.result, true
	}
	return r
}

// subtree is the unit's own curve plus every child's that arrived.
func (p *FractalPeer) subtree() Curve {
	curves := []Curve{p.own}
	for _, id := range p.cfg.Children {
		if c := p.children[id]; c != nil {
			curves = append(curves, *c)
		}
	}
	sum, err := Aggregate(curves...)
	if err != nil {
		return p.own // every curve was checked to share the grid: cannot happen
	}
	return sum
}

func (p *FractalPeer) maybeSendUp() {
	for _, id := range p.cfg.Children {
		if _, live := p.children[id]; live && p.children[id] == nil {
			return
		}
	}
	p.sentUp = true
	sum := p.subtree()
	if p.cfg.Parent == "" {
		price, _ := sum.Equilibrium()
		p.settle(price)
		return
	}
	if payload, err := (FractalMessage{Kind: KindCurve, Interval: p.cfg.Interval, Curve: sum}).MarshalBinary(); err == nil {
		p.outbox = append(p.outbox, Outbound{To: p.cfg.Parent, Payload: payload})
		p.sent++
	}
}

// settle fixes the trades at price and passes it down.
func (p *FractalPeer) settle(price float64) {
	res := &IntervalResult{Interval: p.cfg.Interval, Converged: true, Reason: "cleared", Iterations: 1,
		Dropped: p.dropped, Schedules: map[string][]float64{p.cfg.ID: {positiveZero(p.own.At(price))}}}
	if p.cfg.Parent != "" {
		res.Trades = append(res.Trades, Trade{Partner: p.cfg.Parent, BuyW: units.Watts(positiveZero(p.subtree().At(price))), PricePerKWh: units.PricePerKWh(price)})
	}
	for _, id := range p.cfg.Children {
		c := p.children[id]
		if c == nil {
			continue
		}
		res.Trades = append(res.Trades, Trade{Partner: id, BuyW: units.Watts(positiveZero(-c.At(price))), PricePerKWh: units.PricePerKWh(price)})
		if payload, err := (FractalMessage{Kind: KindPrice, Interval: p.cfg.Interval, Price: price}).MarshalBinary(); err == nil {
			p.outbox = append(p.outbox, Outbound{To: id, Payload: payload})
			p.sent++
		}
	}
	res.MessagesSent = p.sent
	p.result = res
}

var _ MarketPeer = (*FractalPeer)(nil)
var _ MarketPeer = (*ConsensusPeer)(nil)
