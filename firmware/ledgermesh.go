package firmware

import (
	"errors"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/fractals-energy/fractals/ledger/transport"
	"github.com/fractals-energy/fractals/mesh"
)

// MeshTransport carries ledger frames over the mesh as CodeLedger messages, so neighbours'
// channels use the unit's devp2p links (authenticated and encrypted by RLPx). It implements
// ledger/transport.Transport: the `from` handed to the handler is the message's verified author.
// The mesh drops the oldest messages for a subscriber that falls behind; the ledger re-sends.
type MeshTransport struct {
	m    mesh.Mesh
	sub  mesh.Subscription
	once sync.Once
	done chan struct{}
}

var _ transport.Transport = (*MeshTransport)(nil)

// NewMeshTransport subscribes to the ledger's code on m.
func NewMeshTransport(m mesh.Mesh) *MeshTransport {
	return &MeshTransport{m: m, sub: m.Subscribe(mesh.CodeLedger), done: make(chan struct{})}
}

// Send implements transport.Transport.
func (t *MeshTransport) Send(to common.Address, frame []byte) error {
	err := t.m.Send(to, mesh.CodeLedger, frame)
	if errors.Is(err, mesh.ErrQueueFull) {
		return nil // best effort, as every transport: the ledger re-sends what is not acknowledged
	}
	return err
}

// SetHandler implements transport.Transport; frames are delivered from one goroutine in order.
func (t *MeshTransport) SetHandler(h transport.Handler) {
	t.once.Do(func() {
		go func() {
			defer close(t.done)
			for msg := range t.sub.C() {
				h(msg.From, msg.Payload)
			}
		}()
	})
}

// Dropped is how many ledger messages the mesh dropped because the ledger fell behind.
func (t *MeshTransport) Dropped() uint64 { return t.sub.Dropped() }

// Close ends the subscription (the mesh itself stays up).
func (t *MeshTransport) Close() error {
	t.sub.Close()
	return nil
}
