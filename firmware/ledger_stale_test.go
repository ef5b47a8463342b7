package firmware

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/chain"
	"github.com/fractals-energy/fractals/ledger/contracts/bindings"
)

// TestStaleCloseAnsweredByPartnerDaemon: unit a pays b 150, then cheats: with its key and the
// contract directly (not through its daemon) it closes the channel with an old state, one where
// none of its payments is on chain. b's daemon sees the close and answers with a's latest proof;
// after the timeout the chain settles at the latest proofs.
func TestStaleCloseAnsweredByPartnerDaemon(t *testing.T) { staleClose(t, false) }

// TestStaleCloseAnsweredByWatchtower: the same cheat while b is offline; w, b's neighbour holding
// b's delegation of a's latest proof, answers it and settles.
func TestStaleCloseAnsweredByWatchtower(t *testing.T) { staleClose(t, true) }

func staleClose(t *testing.T, partnerOffline bool) {
	ka, kb, kw := ledger.DeterministicKey(211), ledger.DeterministicKey(212), ledger.DeterministicKey(213)
	ether := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	alloc := types.GenesisAlloc{}
	for _, k := range []*ecdsa.PrivateKey{ka, kb, kw} {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: new(big.Int).Mul(ether, big.NewInt(10))}
	}
	sim := simulated.NewBackend(alloc)
	t.Cleanup(func() { sim.Close() })
	mine := func() { sim.Commit() }
	ctx := context.Background()
	contract, _, err := chain.Deploy(ctx, sim.Client(), ka, chain.Options{Mine: mine})
	if err != nil {
		t.Fatal(err)
	}
	rounds := staleCloseAnswered(t, sim.Client(), mine, contract, ka, kb, kw, partnerOffline)
	for try := 0; ; try++ {
		if err := sim.AdjustTime(11 * time.Minute); err == nil {
			sim.Commit()
			break
		} else if try > 200 {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	a, b := crypto.PubkeyToAddress(ka.PublicKey), crypto.PubkeyToAddress(kb.PublicKey)
	amountA, amountB := settledAmounts(t, ctx, sim.Client(), contract, a, b, rounds)
	wantA, wantB := uint64(staleDeposit-150+20), uint64(staleDeposit+150-20)
	if amountA != wantA || amountB != wantB {
		t.Fatalf("settled a=%d b=%d, the latest proofs say a=%d b=%d", amountA, amountB, wantA, wantB)
	}
	t.Logf("stale close answered (partner offline: %v): settled a=%d b=%d as the latest proofs say", partnerOffline, amountA, amountB)
}

const staleDeposit = 1000

// staleCloseAnswered: a and b fund a channel, a pays b 150 and b pays a 20, then a closes with
// none of its payments on chain, through the contract directly. b's daemon, or with b shut down
// the watchtower w holding b's delegation, must store a's latest proof on chain. It returns the
// answering daemon's chain round.
func staleCloseAnswered(t *testing.T, backend chain.Backend, mine func(), contract common.Address, ka, kb, kw *ecdsa.PrivateKey, partnerOffline bool) func() {
	t.Helper()
	ctx := context.Background()
	const deposit = staleDeposit
	p := startPair(t, backend, mine, contract, ka, kb, deposit)
	p.syncUntil(t, "funded", func() bool {
		ca, cb := p.a.Channels(ctx), p.b.Channels(ctx)
		return len(ca) == 1 && len(cb) == 1 && ca[0].OwnBalance == deposit && ca[0].PartnerBalance == deposit &&
			cb[0].OwnBalance == deposit && cb[0].PartnerBalance == deposit && ca[0].Synced && cb[0].Synced
	})
	for i := uint64(1); i <= 150; i++ {
		if err := p.a.Pay(ctx, p.b.Address(), 1, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.b.Pay(ctx, p.a.Address(), 20, 1); err != nil {
		t.Fatal(err)
	}
	info := p.a.Node().Channel(p.b.Address())
	watchers := []*Ledger{p.b}
	if partnerOffline {
		w := startWatchtower(t, backend, mine, contract, kw)
		d, err := p.b.Delegation(p.a.Address())
		if err != nil {
			t.Fatal(err)
		}
		if d.Proof.Nonce != 150 {
			t.Fatalf("delegated a's proof %d, want its latest 150", d.Proof.Nonce)
		}
		if err := w.Watch(d); err != nil {
			t.Fatal(err)
		}
		if err := p.b.Shutdown(); err != nil {
			t.Fatal(err)
		}
		watchers = []*Ledger{w}
	}

	// a's cheat: close with b's proof (its 20) but hope its own 150 never reach the chain.
	cheat, err := chain.New(ctx, backend, ka, contract, chain.Options{Mine: mine})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cheat.Close(ctx, info.Domain, info.Partner); err != nil {
		t.Fatal(err)
	}
	rounds := func() {
		for _, l := range watchers {
			l.Sync(ctx)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		rounds()
		st, err := cheat.Participant(ctx, info.Domain.ChannelID, p.a.Address())
		if err != nil {
			t.Fatal(err)
		}
		if st.Nonce.Uint64() == info.OwnNonce {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a's proof on chain has nonce %s, want its latest %d: the stale close was not answered", st.Nonce, info.OwnNonce)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("stale close answered (partner offline: %v): a's proof %d on chain", partnerOffline, info.OwnNonce)
	return rounds
}

// settledAmounts runs the watchers' rounds until the contract's Settled event appears and returns
// its amounts, participant a first whichever address sorts lower.
func settledAmounts(t *testing.T, ctx context.Context, backend chain.Backend, contract, a, b common.Address, rounds func()) (uint64, uint64) {
	t.Helper()
	abi := bindings.NewFractalsChannels()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rounds()
		logs, err := backend.FilterLogs(ctx, ethereum.FilterQuery{Addresses: []common.Address{contract}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range logs {
			if ev, err := abi.UnpackSettledEvent(&logs[i]); err == nil {
				if a.Cmp(b) < 0 {
					return ev.AmountA.Uint64(), ev.AmountB.Uint64()
				}
				return ev.AmountB.Uint64(), ev.AmountA.Uint64()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no Settled event")
	return 0, 0
}

// startWatchtower starts a ledger with no channels of its own on the same chain.
func startWatchtower(t *testing.T, backend chain.Backend, mine func(), contract common.Address, key *ecdsa.PrivateKey) *Ledger {
	t.Helper()
	cfg := config.Channels{Listen: freeAddr(t), Store: filepath.Join(t.TempDir(), "w.db"), SettleTimeout: 10 * time.Minute}
	l, err := StartLedger(context.Background(), config.Chain{Backend: "simulated", Poll: time.Hour, Confirmations: 1}, cfg,
		LedgerOptions{Key: key, Backend: backend, Mine: mine, Contract: contract})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Shutdown() })
	return l
}
