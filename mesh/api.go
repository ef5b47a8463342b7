package mesh

import (
	"errors"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Address names a unit on the mesh: the Ethereum address of its secp256k1 key, the same key that signs
// its bids, its payments and its devp2p links, so one identity covers all three.
type Address = common.Address

// Code says what a message carries. The mesh routes and caps messages by code and never reads their
// payloads.
type Code uint8

// The message codes of the fractals sub-protocol that the rest of the unit may send.
const (
	CodeMarket    Code = 0x10 // market bids, iterates and results
	CodeLedger    Code = 0x11 // payment-channel frames between channel partners
	CodeTelemetry Code = 0x12 // telemetry summaries and signed meter readings
	CodeGossip    Code = 0x13 // community-wide announcements
)

// Message is one message as delivered to a subscriber: its author (verified against the envelope's
// signature when the message was relayed, the link's key when it was sent directly), the neighbour it
// arrived from, and the payload as the author sent it.
type Message struct {
	Code    Code
	From    Address // the author, verified
	Via     Address // the neighbour that handed it over (From for a direct send)
	Seq     uint64  // the author's sequence number
	Payload []byte
}

// PeerEvent reports a neighbour coming up or going down.
type PeerEvent struct {
	Peer Address
	Up   bool
	At   time.Time
}

// PeerInfo is what the unit knows of one neighbour, for the API and `fractals mesh`.
type PeerInfo struct {
	Address   Address       `json:"address"`
	Enode     string        `json:"enode,omitempty"`
	Remote    string        `json:"remote,omitempty"`
	Inbound   bool          `json:"inbound"`
	RTT       time.Duration `json:"rtt_ns"`
	MsgsIn    uint64        `json:"msgs_in"`
	MsgsOut   uint64        `json:"msgs_out"`
	BytesIn   uint64        `json:"bytes_in"`
	BytesOut  uint64        `json:"bytes_out"`
	Score     int           `json:"score"`
	Connected bool          `json:"connected"`
	// Version and Capabilities are what the peer's handshake announced (devp2p node only).
	Version      uint     `json:"version,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
}

// Subscription delivers the messages of one code until it is closed. A subscriber that falls behind
// loses the oldest messages, never blocks the mesh (Dropped counts them).
type Subscription interface {
	C() <-chan Message
	Dropped() uint64
	Close()
}

// Mesh is what the rest of the unit sees of the mesh: devp2p in the daemon, an in-memory network of the
// same behaviour in large simulations. Send goes to one unit (directly when it is a neighbour, queued in
// store-and-forward while it is away); Broadcast reaches the whole community by gossip.
type Mesh interface {
	Self() Address
	Send(to Address, code Code, payload []byte) error
	Broadcast(code Code, payload []byte) error
	Subscribe(code Code) Subscription
	PeerEvents() PeerSubscription
	Peers() []PeerInfo
}

// PeerSubscription delivers peer up and down events until it is closed.
type PeerSubscription interface {
	C() <-chan PeerEvent
	Close()
}

// Errors every implementation returns in the same cases.
var (
	ErrTooLarge    = errors.New("mesh: payload larger than the cap of its code")
	ErrUnknownCode = errors.New("mesh: unknown message code")
	ErrClosed      = errors.New("mesh: closed")
	ErrQueueFull   = errors.New("mesh: store-and-forward queue full")
)
