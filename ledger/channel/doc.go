// Package channel is the pure state machine of one payment channel between two units: cumulative
// balance proofs with strictly increasing nonces, direct transfers, hash-locked (mediated) transfers
// with expiry, unlock and removal of expired locks, withdrawals and cooperative settles both sides
// sign, Sync (which hands back the latest proof and the pending withdrawal agreements a side's
// store lost), and the wire encoding of every message and of the stored state (version 4, which
// keeps the signatures of a pending withdrawal; version 3 states are still read).
//
// Like etcd's raft it does no I/O: the caller persists the state the machine returns before it sends
// a signed proof (or acknowledges a received one), and carries the messages over a transport. Time
// enters only as an argument. It must not import storage, networking or chain code, and it must
// never sign two different states with the same nonce or a state that overspends a deposit.
package channel
