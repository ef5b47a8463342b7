package firmware

import (
	"errors"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/fractals-energy/fractals/ledger/chain"
)

// EmbeddedChainFactory starts an in-process chain with funded's account holding gas money; mine
// seals the pending transactions into a block and closeChain stops the chain.
// firmware/simchain.New is one.
type EmbeddedChainFactory func(funded common.Address) (backend chain.Backend, mine func(), closeChain func() error, err error)

// ErrNoEmbeddedChain is the start error of a unit whose chain is the embedded default in a
// binary built without one (the production builds, -tags nosimchain).
var ErrNoEmbeddedChain = errors.New("chain: this build has no embedded development chain (built with -tags nosimchain); " +
	"configure the unit's chain as backend: jsonrpc with url: of an EVM node's JSON-RPC endpoint")

var (
	embeddedChainMu sync.Mutex
	embeddedChain   EmbeddedChainFactory
)

// RegisterEmbeddedChain makes f the chain a unit gets when its unit file names no JSON-RPC chain.
// Main packages call it from an init; the last registration wins.
func RegisterEmbeddedChain(f EmbeddedChainFactory) {
	embeddedChainMu.Lock()
	defer embeddedChainMu.Unlock()
	embeddedChain = f
}

func registeredEmbeddedChain() EmbeddedChainFactory {
	embeddedChainMu.Lock()
	defer embeddedChainMu.Unlock()
	return embeddedChain
}

// CheckChainAvailable says whether this build can run a unit on c: a JSON-RPC chain always, the
// embedded default only when one is registered.
func CheckChainAvailable(backend string) error {
	if backend != "jsonrpc" && registeredEmbeddedChain() == nil {
		return ErrNoEmbeddedChain
	}
	return nil
}
