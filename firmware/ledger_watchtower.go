package firmware

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/fractals-energy/fractals/ledger/chain"
	"github.com/fractals-energy/fractals/ledger/channel"
)

// Delegation signs, for a watchtower, the latest proof this unit holds from partner: with it a
// neighbour may answer a stale close by partner while this unit is offline. Handing it to the
// neighbour is the caller's part (nothing carries delegations between daemons yet).
func (l *Ledger) Delegation(partner common.Address) (chain.Delegation, error) {
	info := l.node.Channel(partner)
	if !info.Found {
		return chain.Delegation{}, fmt.Errorf("ledger: no channel with %s", partner)
	}
	sig, err := l.signer.Sign(channel.DelegateDigest(info.Domain, info.Partner.Digest()))
	if err != nil {
		return chain.Delegation{}, err
	}
	return chain.Delegation{Domain: info.Domain, Proof: info.Partner, Sig: sig}, nil
}

// Watch makes this unit a watchtower for a neighbour's channel: its keeper answers a stale close
// of that channel with the delegated proof (and settles it after the timeout).
func (l *Ledger) Watch(d chain.Delegation) error {
	if l.keeper == nil {
		return fmt.Errorf("ledger: no chain to watch")
	}
	l.chainMu.Lock()
	defer l.chainMu.Unlock()
	l.keeper.Watcher.Delegate(d)
	return nil
}
