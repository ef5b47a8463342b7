package auction

import (
	"encoding/binary"
	"fmt"
	"math"
)

// MessageKind says what a market peer's message carries.
type MessageKind uint8

// The messages of the consensus market, peer to neighbour.
const (
	// KindIterate carries the sender's proposed trades with the receiver for one iteration.
	KindIterate MessageKind = 1
	// KindLeave says the sender has dropped the receiver from this interval: their trades are zero.
	KindLeave MessageKind = 2
)

// NoStop is PeerMessage.Stop when the sender knows of no agreed stopping iteration yet.
const NoStop = math.MaxUint32

// PeerMessage is one market message between neighbours. Quantities are in kW per period of the horizon,
// as the sender proposes them for the trade with the receiver only: no message says anything about a
// unit's other neighbours, its agents or its prices.
type PeerMessage struct {
	Kind      MessageKind
	Interval  uint64 // the market interval the message belongs to
	Iteration uint32
	// Streak is the sender's count of consecutive converged iterations, min-combined with its
	// neighbours' (the distributed stopping rule), as of the iteration before this one.
	Streak uint32
	// Stop is the earliest iteration at which the sender knows some unit declared convergence, or NoStop.
	Stop   uint32
	SellKW []float64 // per period, energy rate the sender offers to sell to the receiver
	BuyKW  []float64 // per period, energy rate the sender asks to buy from the receiver
}

// The wire format, big-endian: version, kind, interval (8), iteration (4), streak (4), stop (4),
// periods (2), then periods × sell and periods × buy as IEEE-754 float64. A leave has zero periods.
const (
	peerMessageVersion = 1
	peerHeaderLen      = 1 + 1 + 8 + 4 + 4 + 4 + 2
	// MaxMessagePeriods bounds the horizon a message may carry (a week of 15-minute periods).
	MaxMessagePeriods = 7 * 96
)

// MarshalBinary encodes m. It refuses a message that DecodePeerMessage would refuse.
func (m PeerMessage) MarshalBinary() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	n := len(m.SellKW)
	out := make([]byte, peerHeaderLen, peerHeaderLen+16*n)
	out[0], out[1] = peerMessageVersion, byte(m.Kind)
	binary.BigEndian.PutUint64(out[2:], m.Interval)
	binary.BigEndian.PutUint32(out[10:], m.Iteration)
	binary.BigEndian.PutUint32(out[14:], m.Streak)
	binary.BigEndian.PutUint32(out[18:], m.Stop)
	binary.BigEndian.PutUint16(out[22:], uint16(n))
	for _, v := range m.SellKW {
		out = binary.BigEndian.AppendUint64(out, math.Float64bits(v))
	}
	for _, v := range m.BuyKW {
		out = binary.BigEndian.AppendUint64(out, math.Float64bits(v))
	}
	return out, nil
}

// DecodePeerMessage decodes one message strictly: known version and kind, exact length, every quantity
// finite and within 0..10 GW, a leave without quantities. Errors say which field and at which byte.
func DecodePeerMessage(data []byte) (PeerMessage, error) {
	if len(data) < peerHeaderLen {
		return PeerMessage{}, fmt.Errorf("market message: %d bytes, want at least the %d-byte header", len(data), peerHeaderLen)
	}
	if data[0] != peerMessageVersion {
		return PeerMessage{}, fmt.Errorf("market message: version %d at byte 0, want %d", data[0], peerMessageVersion)
	}
	m := PeerMessage{Kind: MessageKind(data[1]), Interval: binary.BigEndian.Uint64(data[2:]),
		Iteration: binary.BigEndian.Uint32(data[10:]), Streak: binary.BigEndian.Uint32(data[14:]),
		Stop: binary.BigEndian.Uint32(data[18:])}
	n := int(binary.BigEndian.Uint16(data[22:]))
	if want := peerHeaderLen + 16*n; len(data) != want {
		return PeerMessage{}, fmt.Errorf("market message: %d bytes for %d periods, want %d", len(data), n, want)
	}
	if n > 0 {
		m.SellKW, m.BuyKW = make([]float64, n), make([]float64, n)
	}
	for i := range n {
		m.SellKW[i] = math.Float64frombits(binary.BigEndian.Uint64(data[peerHeaderLen+8*i:]))
		m.BuyKW[i] = math.Float64frombits(binary.BigEndian.Uint64(data[peerHeaderLen+8*(n+i):]))
	}
	if err := m.check(); err != nil {
		return PeerMessage{}, err
	}
	return m, nil
}

// maxTradeKW bounds a quantity on the wire (10 GW, the bound on every power in the package).
const maxTradeKW = maxPower / 1000

func (m PeerMessage) check() error {
	n := len(m.SellKW)
	switch m.Kind {
	case KindIterate:
		if n < 1 || n > MaxMessagePeriods {
			return fmt.Errorf("market message: iterate with %d periods, want 1..%d", n, MaxMessagePeriods)
		}
	case KindLeave:
		if n != 0 || len(m.BuyKW) != 0 {
			return fmt.Errorf("market message: leave with %d periods, want none", n)
		}
		return nil
	default:
		return fmt.Errorf("market message: kind %d at byte 1, want %d (iterate) or %d (leave)", m.Kind, KindIterate, KindLeave)
	}
	if len(m.BuyKW) != n {
		return fmt.Errorf("market message: %d sell and %d buy quantities, want one each per period", n, len(m.BuyKW))
	}
	for _, q := range []struct {
		name string
		v    []float64
	}{{"sell", m.SellKW}, {"buy", m.BuyKW}} {
		for t, v := range q.v {
			if !(v >= 0 && v <= maxTradeKW) {
				return fmt.Errorf("market message: %s[%d] %v kW, want 0..%g", q.name, t, v, float64(maxTradeKW))
			}
		}
	}
	return nil
}
