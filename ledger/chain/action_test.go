package chain

import (
	"bytes"
	"testing"

	"github.com/fractals-energy/fractals/ledger/channel"
)

func FuzzDecodeAction(f *testing.F) {
	d := channel.Domain{ChainID: 1337, Contract: channel.Address{1}, ChannelID: channel.Hash{2}, Epoch: 3}
	f.Add(EncodeAction(Action{Kind: ActClose, Domain: d, Proof: channel.BalanceProof{Domain: d, Nonce: 4, Transferred: 5}}))
	f.Add(EncodeAction(Action{Kind: ActUpdateProof, Domain: d, DelegateSig: make([]byte, 65), NotBefore: 9}))
	f.Add(EncodeAction(Action{Kind: ActUnlock, Domain: d, Locks: []channel.Lock{{Expiration: 1, Amount: 2}}}))
	f.Add([]byte{1, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeAction(data)
		if err == nil && !bytes.Equal(EncodeAction(a), data) {
			t.Fatal("action does not round-trip")
		}
	})
}
