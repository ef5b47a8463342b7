package chain

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// TestKeeperClaimsALockThePayerNeverUnlocks: a payer locks an amount, reveals the secret when the
// target asks, and then never unlocks. The target's keeper registers the secret on chain, closes,
// settles and unlocks, and is paid the locked amount.
func TestKeeperClaimsALockThePayerNeverUnlocks(t *testing.T) {
	claimLockedAmount(t, false)
}

// TestWatcherClaimsLocksWhenThePayerClosesEarly: the payer closes the channel long before its
// lock expires; the target's watcher submits the payer's proof with the lock, registers the
// secret, settles and unlocks.
func TestWatcherClaimsLocksWhenThePayerClosesEarly(t *testing.T) {
	claimLockedAmount(t, true)
}

func claimLockedAmount(t *testing.T, payerCloses bool) {
	c := newSimChain(t)
	ctx := context.Background()
	hub := transport.NewHub()
	b := startUnit(t, hub, c.sb, c.b, filepath.Join(t.TempDir(), "b.db"))
	if !payerCloses {
		b.keeper.Node = b.node
		b.keeper.ClaimMargin = 1000 * time.Hour
	}
	d, r, err := c.a.Open(ctx, c.sb.Address(), native, 600, 1000)
	c.must(t, "open")(r, err)
	b.step(t)

	// The dishonest payer is played by hand with the bare state machine.
	payer := channel.New(d, c.sa.Address(), c.sb.Address())
	if err := payer.SetDeposit(c.sa.Address(), 1000); err != nil {
		t.Fatal(err)
	}
	ep := hub.Join(c.sa.Address())
	defer ep.Close()
	frames := make(chan []byte, 16)
	ep.SetHandler(func(_ common.Address, f []byte) { frames <- f })
	head, err := c.sim.Client().HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret := channel.Hash{0x5e}
	lock := channel.Lock{Expiration: head.Time + 3600, Amount: 40, SecretHash: crypto.Keccak256Hash(secret[:])}
	u, err := payer.AddLock(lock, channel.RouteInfo{PaymentID: 1, Initiator: c.sa.Address(), Target: c.sb.Address()}, head.Time, c.sa)
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Send(c.sb.Address(), channel.EncodeUpdate(u)); err != nil {
		t.Fatal(err)
	}
	for asked := false; !asked; {
		select {
		case f := <-frames:
			asked = f[0] == byte(ledger.KindSecretRequest)
		case <-time.After(5 * time.Second):
			t.Fatal("the target never asked for the secret")
		}
	}
	if err := ep.Send(c.sb.Address(), ledger.EncodeSecretReveal(ledger.SecretReveal{Secret: secret})); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); len(b.node.Claims(^uint64(0))) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the target did not record the secret")
		}
		time.Sleep(5 * time.Millisecond)
	}

	if payerCloses {
		c.must(t, "close by payer")(c.a.Close(ctx, d, channel.BalanceProof{}))
	}
	b.step(t) // registers the secret, closes (or answers the payer's close)
	c.pass(t, 601*time.Second)
	b.step(t) // settles
	b.step(t) // unlocks
	if len(b.queue.Failed) != 0 {
		t.Fatalf("chain refused: %v", b.queue.Failed)
	}
	t.Logf("gas register secret %d, close %d, settle %d, unlock %d", b.queue.Gas[ActRegisterSecret], b.queue.Gas[ActClose], b.queue.Gas[ActSettle], b.queue.Gas[ActUnlock])
	logs, err := c.sim.Client().FilterLogs(ctx, ethereum.FilterQuery{Addresses: []common.Address{c.a.Address()},
		Topics: [][]common.Hash{{crypto.Keccak256Hash([]byte("Unlocked(bytes32,address,uint256,uint256)"))}}})
	if err != nil || len(logs) != 1 {
		t.Fatalf("unlock events %d, %v", len(logs), err)
	}
	ev, err := c.a.abi.UnpackUnlockedEvent(&logs[0])
	if err != nil || ev.Paid.Uint64() != 40 || ev.Returned.Uint64() != 0 {
		t.Fatalf("unlock paid %v returned %v (%v), want 40 and 0", ev.Paid, ev.Returned, err)
	}
	c.expectPayout(t, settledLog(t, c.sim.Client(), c), 960, 0)
}
