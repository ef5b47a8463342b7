// Package chain connects the ledger to the settlement contract on an EVM chain: go-ethereum's
// simulated backend in tests, or any JSON-RPC endpoint (geth --dev, a Spectrum node). It sends the
// contract's transactions, converts between the state machine's uint64 amounts and uint256, watches
// channel events and answers a stale close with the latest proof, and keeps on-chain actions in a
// durable queue while no chain is reachable.
//
// It must not change channel state itself: it reports chain events and the node decides.
package chain
