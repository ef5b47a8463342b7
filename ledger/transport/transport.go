package transport

import (
	"github.com/ethereum/go-ethereum/common"
)

// Handler receives one frame from a peer; the frame is the handler's to keep. It must not block
// for long: frames from the same peer wait behind it.
type Handler func(from common.Address, frame []byte)

// Transport sends frames to peers by address.
//
// The `from` a Transport hands to the Handler is authenticated: the frame came over a link whose
// far end proved it holds the secp256k1 key of that address (the TCP transport's signed hello; the
// in-process hub, whose endpoints are the units themselves; the mesh's authenticated links). A
// Transport must never deliver a frame under an address its sender has not proved, and it refuses
// and closes a link that fails the proof. Receivers may therefore act on unsigned messages (Sync,
// secret requests) as coming from `from`; signed content (balance proofs, acks) is still checked
// against its signature.
type Transport interface {
	// Send queues frame for to; it returns an error only if the peer is unknown or the transport
	// is closed. Delivery is not guaranteed, and a frame only reaches the unit that proves to
	// be to.
	Send(to common.Address, frame []byte) error
	// SetHandler installs the receiver of incoming frames; call it before traffic starts.
	SetHandler(h Handler)
	Close() error
}
