package chain

import (
	"github.com/fractals-energy/fractals/ledger"
	"github.com/fractals-energy/fractals/ledger/channel"
)

// NodeListener feeds a unit's chain events to its ledger node: a channel opened on chain appears
// in the node, deposits and withdrawals update its balances (of that channel only, by id), and a
// settled channel leaves it.
type NodeListener struct{ Node *ledger.Node }

// ChannelOpened registers the channel (with no deposits yet; Deposited follows).
func (l NodeListener) ChannelOpened(o ledger.Opening) error { return l.Node.ChannelOpened(o) }

// Deposited updates a participant's deposit.
func (l NodeListener) Deposited(d channel.Domain, who channel.Address, total uint64) error {
	return l.Node.ChainDeposited(d.ChannelID, who, total)
}

// Withdrawn records an executed withdrawal (chainNow: the head's timestamp).
func (l NodeListener) Withdrawn(d channel.Domain, who channel.Address, total, chainNow uint64) error {
	return l.Node.ChainWithdrawn(d.ChannelID, who, total, chainNow)
}

// Settled drops the channel from the node.
func (l NodeListener) Settled(d channel.Domain) error { return l.Node.ChainSettled(d) }
