package chain

import (
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/channel"
)

// NodeListener feeds a unit's chain events to its ledger node: a channel opened on chain appears
// in the node, and deposits and withdrawals update its balances.
type NodeListener struct{ Node *ledger.Node }

// ChannelOpened registers the channel (with no deposits yet; Deposited follows).
func (l NodeListener) ChannelOpened(d channel.Domain, partner channel.Address) error {
	if i := l.Node.ChannelByID(d.ChannelID); i.Found && i.Domain == d {
		return nil
	}
	return l.Node.AddChannel(d, partner, 0, 0)
}

// Deposited updates a participant's deposit.
func (l NodeListener) Deposited(_ channel.Domain, partner, who channel.Address, total uint64) error {
	return l.Node.ChainDeposited(partner, who, total)
}

// Withdrawn records an executed withdrawal.
func (l NodeListener) Withdrawn(_ channel.Domain, partner, who channel.Address, total uint64) error {
	return l.Node.ChainWithdrawn(partner, who, total)
}
