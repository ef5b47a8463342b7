package simchain

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/fractals-energy/fractals/ledger/chain"
)

// fundedEther is what the unit's account holds at genesis: enough gas for years of channel duties.
const fundedEther = 1000

// New starts a simulated chain in the process with funded's account holding 1000 ether. mine
// seals a block with the pending transactions (the chain does not mine by itself); closeChain
// stops it. Its signature is firmware.EmbeddedChainFactory.
func New(funded common.Address) (backend chain.Backend, mine func(), closeChain func() error, err error) {
	wei := new(big.Int).Mul(new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil), big.NewInt(fundedEther))
	sim := simulated.NewBackend(types.GenesisAlloc{funded: {Balance: wei}})
	return sim.Client(), func() { sim.Commit() }, sim.Close, nil
}
