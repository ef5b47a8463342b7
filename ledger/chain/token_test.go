package chain

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/fractals-energy/fractals/ledger/contracts/bindings"
	"time"
)

func TestERC20ChannelSettlesExactTokenBalances(t *testing.T) { erc20Channel(t, false) }

// TestTokenReturningNothingSettles: a token whose transfer and transferFrom return no data (as
// some deployed tokens do) is handled by the contract's safe-transfer calls.
func TestTokenReturningNothingSettles(t *testing.T) { erc20Channel(t, true) }

func erc20Channel(t *testing.T, silent bool) {
	c := newSimChain(t)
	ctx := context.Background()
	tok := bindings.NewTestToken()
	auth := bind.NewKeyedTransactor(c.kw, big.NewInt(int64(c.a.ChainID())))
	tokenAddr, tx, err := bind.DeployContract(auth, common.FromHex(bindings.TestTokenMetaData.Bin), c.sim.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.sim.Commit()
	if _, err := bind.WaitMined(ctx, c.sim.Client(), tx.Hash()); err != nil {
		t.Fatal(err)
	}
	token := tok.Instance(c.sim.Client(), tokenAddr)
	send := func(who *Adapter, data []byte) {
		t.Helper()
		auth := bind.NewKeyedTransactor(who.key, who.chainID)
		tx, err := bind.Transact(token, auth, data)
		if err != nil {
			t.Fatal(err)
		}
		c.sim.Commit()
		if r, err := bind.WaitMined(ctx, c.sim.Client(), tx.Hash()); err != nil || r.Status != types.ReceiptStatusSuccessful {
			t.Fatalf("token transaction failed: %v", err)
		}
	}
	balance := func(who common.Address) uint64 {
		b, err := bind.Call(token, nil, tok.PackBalanceOf(who), tok.UnpackBalanceOf)
		if err != nil {
			t.Fatal(err)
		}
		return b.Uint64()
	}
	for _, p := range []*Adapter{c.a, c.b} {
		send(p, tok.PackMint(p.Self(), big.NewInt(10_000)))
		send(p, tok.PackApprove(c.a.Address(), new(big.Int).Lsh(big.NewInt(1), 255)))
	}
	if silent {
		send(c.a, tok.PackSetSilent(true))
	}
	d, r, err := c.a.Open(ctx, c.sb.Address(), tokenAddr, 600, 1000)
	c.must(t, "open erc20")(r, err)
	c.must(t, "deposit erc20")(c.b.Deposit(ctx, d, tokenAddr, 200))
	ca, cb := c.channels(d, 1000, 200)
	for i := 0; i < 10; i++ {
		pay(t, ca, cb, c.sa, 7)
	}
	pay(t, cb, ca, c.sb, 20)
	c.must(t, "close erc20")(c.a.Close(ctx, d, ca.Partner.Proof))
	c.must(t, "update erc20")(c.b.UpdateProof(ctx, d, cb.Partner.Proof, nil))
	c.pass(t, 601*time.Second)
	c.must(t, "settle erc20")(c.a.Settle(ctx, d))
	c.must(t, "collect erc20 a")(c.a.WithdrawBalance(ctx, tokenAddr))
	c.must(t, "collect erc20 b")(c.b.WithdrawBalance(ctx, tokenAddr))
	if a, b := balance(c.sa.Address()), balance(c.sb.Address()); a != 10_000-70+20 || b != 10_000+70-20 {
		t.Fatalf("token balances a=%d b=%d, want %d and %d", a, b, 10_000-70+20, 10_000+70-20)
	}
	if got := balance(c.a.Address()); got != 0 {
		t.Fatalf("contract still holds %d tokens", got)
	}
}
