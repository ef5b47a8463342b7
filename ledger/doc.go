// Package ledger holds Photon-style payment channels: the pure channel state machine, balance proofs,
// direct and mediated (hash-locked) transfers, durable persistence (every signed state on disk before
// it leaves the unit), the settlement contract and its chain adapters. It works offline; on-chain
// actions queue until a chain is reachable.
package ledger
