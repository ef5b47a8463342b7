package channel

import (
	"crypto/ecdsa"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

// testKey derives a deterministic key from a small seed so tests are reproducible.
func testKey(t testing.TB, seed int64) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.ToECDSA(common32(big.NewInt(seed + 1000)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func common32(v *big.Int) []byte {
	b := make([]byte, 32)
	v.FillBytes(b)
	return b
}

var testDomain = Domain{ChainID: 1337, Contract: Address{0xcc}, ChannelID: Hash{0xc1}, Epoch: 1}

// pair builds both ends of one channel, each with the given deposit.
func pair(t testing.TB, deposit uint64) (a, b *Channel, sa, sb *KeySigner) {
	t.Helper()
	sa, sb = NewKeySigner(testKey(t, 1)), NewKeySigner(testKey(t, 2))
	a = New(testDomain, sa.Address(), sb.Address())
	b = New(testDomain, sb.Address(), sa.Address())
	for _, c := range []*Channel{a, b} {
		if err := c.SetDeposit(sa.Address(), deposit); err != nil {
			t.Fatal(err)
		}
		if err := c.SetDeposit(sb.Address(), deposit); err != nil {
			t.Fatal(err)
		}
	}
	return a, b, sa, sb
}

// agreeWithdraw has a request a withdrawal of total (expiry 1000, at time 1), b co-sign it and a
// check the co-signature: a pending agreement both sides signed.
func agreeWithdraw(t testing.TB, a, b *Channel, sa, sb *KeySigner, total uint64) (WithdrawRequest, WithdrawConfirm) {
	t.Helper()
	req, err := a.RequestWithdraw(total, 1000, 1, sa)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := b.ConfirmWithdraw(req, 1, sb)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CheckWithdrawConfirm(conf); err != nil {
		t.Fatal(err)
	}
	return req, conf
}
