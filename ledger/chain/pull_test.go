package chain

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/contracts/bindings"
)

// TestRejectingParticipantCannotBlockSettle: a participant that is a contract refusing native
// coin closes with the partner's proof; settlement must still go through and the honest partner
// collect its share (with push payments, settle reverted for ever and froze both shares).
func TestRejectingParticipantCannotBlockSettle(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	rej := bindings.NewTestRejector()
	auth := bind.NewKeyedTransactor(c.kb, c.b.chainID)
	rejAddr, tx, err := bind.DeployContract(auth, common.FromHex(bindings.TestRejectorMetaData.Bin), c.sim.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.sim.Commit()
	if _, err := bind.WaitMined(ctx, c.sim.Client(), tx.Hash()); err != nil {
		t.Fatal(err)
	}
	d, r, err := c.a.Open(ctx, rejAddr, native, 600, 1000)
	c.must(t, "open with a contract")(r, err)
	ca := channel.New(d, c.sa.Address(), rejAddr)
	if err := ca.SetDeposit(c.sa.Address(), 1000); err != nil {
		t.Fatal(err)
	}
	u, err := ca.Direct(200, c.sa)
	if err != nil {
		t.Fatal(err)
	}
	closeCall := c.a.abi.PackClose(d.ChannelID, proofArg(u.Proof))
	tx, err = bind.Transact(rej.Instance(c.sim.Client(), rejAddr), bind.NewKeyedTransactor(c.kb, c.b.chainID), rej.PackExec(c.a.Address(), closeCall))
	if err != nil {
		t.Fatal(err)
	}
	c.sim.Commit()
	if r, err := bind.WaitMined(ctx, c.sim.Client(), tx.Hash()); err != nil || r.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("close through the contract participant: %v", err)
	}
	c.pass(t, 601*time.Second)
	c.must(t, "settle")(c.a.Settle(ctx, d))
	for who, want := range map[common.Address]uint64{c.sa.Address(): 800, rejAddr: 200} {
		if owed, err := c.a.Owed(ctx, native, who); err != nil || owed.Uint64() != want {
			t.Fatalf("owed to %s: %v %v, want %d", who, owed, err, want)
		}
	}
	before, _ := c.a.Balance(ctx, c.sa.Address())
	r = c.must(t, "withdraw balance")(c.a.WithdrawBalance(ctx, native))
	after, _ := c.a.Balance(ctx, c.sa.Address())
	fee := new(big.Int).Mul(r.EffectiveGasPrice, new(big.Int).SetUint64(r.GasUsed))
	if got := new(big.Int).Sub(new(big.Int).Add(after, fee), before); got.Uint64() != 800 {
		t.Fatalf("a collected %s, want 800", got)
	}
	if _, err := c.a.WithdrawBalance(ctx, native); err == nil {
		t.Fatal("collected twice")
	}
}
