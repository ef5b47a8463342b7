package telemetry

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"

	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/chain"
)

// Keys of the two units whose ledgers the tests run.
var keyA, keyB = ledger.DeterministicKey(401), ledger.DeterministicKey(402)

const testDeposit = 500

// testChain is a simulated chain with the settlement contract deployed and both units funded.
type testChain struct {
	sim      *simulated.Backend
	contract common.Address
}

func newTestChain() (*testChain, error) {
	ether := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	sim := simulated.NewBackend(types.GenesisAlloc{crypto.PubkeyToAddress(keyA.PublicKey): {Balance: ether},
		crypto.PubkeyToAddress(keyB.PublicKey): {Balance: ether}})
	contract, _, err := chain.Deploy(context.Background(), sim.Client(), keyA, chain.Options{Mine: func() { sim.Commit() }})
	if err != nil {
		sim.Close()
		return nil, err
	}
	return &testChain{sim: sim, contract: contract}, nil
}

func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startLedger starts the ledger of key on store, listening on listen, with peer at peerAt as its
// one neighbour; the chain poll is an hour, so the caller drives chain rounds with Sync.
func (c *testChain) startLedger(key, peer *ecdsa.PrivateKey, store, listen, peerAt string) (*firmware.Ledger, error) {
	cfg := config.Channels{Listen: listen, Store: store, Deposit: testDeposit, SettleTimeout: 10 * time.Minute,
		Neighbours: []config.Neighbour{{Address: crypto.PubkeyToAddress(peer.PublicKey).Hex(), Endpoint: peerAt}}}
	return firmware.StartLedger(context.Background(), config.Chain{Backend: "simulated", Poll: time.Hour, Confirmations: 1}, cfg,
		firmware.LedgerOptions{Key: key, Backend: c.sim.Client(), Mine: func() { c.sim.Commit() }, Contract: c.contract})
}

// startPair starts unit A's and unit B's ledgers (stores storeA, storeB) and waits until their
// channel is open, funded by both and synced.
func (c *testChain) startPair(storeA, storeB string) (a, b *firmware.Ledger, err error) {
	atA, err := freeLoopback()
	if err != nil {
		return nil, nil, err
	}
	atB, err := freeLoopback()
	if err != nil {
		return nil, nil, err
	}
	if a, err = c.startLedger(keyA, keyB, storeA, atA, atB); err != nil {
		return nil, nil, err
	}
	if b, err = c.startLedger(keyB, keyA, storeB, atB, atA); err != nil {
		a.Shutdown()
		return nil, nil, err
	}
	ctx := context.Background()
	for range 100 {
		a.Sync(ctx)
		b.Sync(ctx)
		ca, cb := a.Channels(ctx), b.Channels(ctx)
		if len(ca) == 1 && len(cb) == 1 && ca[0].OwnDeposit == testDeposit && ca[0].PartnerDeposit == testDeposit &&
			ca[0].OwnBalance == testDeposit && ca[0].PartnerBalance == testDeposit &&
			cb[0].OwnBalance == testDeposit && cb[0].PartnerBalance == testDeposit && ca[0].Synced && cb[0].Synced {
			return a, b, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.Shutdown()
	b.Shutdown()
	return nil, nil, fmt.Errorf("the channel between A and B was not opened, funded and synced")
}
