package transport

import (
	"github.com/ethereum/go-ethereum/common"
)

// Handler receives one frame from a peer; the frame is the handler's to keep. It must not block
// for long: frames from the same peer wait behind it.
type Handler func(from common.Address, frame []byte)

// Transport sends frames to peers by address.
type Transport interface {
	// Send queues frame for to; it returns an error only if the peer is unknown or the transport
	// is closed. Delivery is not guaranteed.
	Send(to common.Address, frame []byte) error
	// SetHandler installs the receiver of incoming frames; call it before traffic starts.
	SetHandler(h Handler)
	Close() error
}
