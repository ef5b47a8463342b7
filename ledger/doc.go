// Package ledger holds Photon-style payment channels: the pure channel state machine, balance proofs,
// direct and mediated (hash-locked) transfers, durable persistence (every signed state on disk before
// it leaves the unit), the settlement contract and its chain adapters. It works offline; on-chain
// actions queue until a chain is reachable.
//
// The rooms:
//
//   - channel: the pure state machine of one channel and the wire codecs (no I/O, time as an argument).
//   - store: a write-ahead log (one fdatasync per commit) in front of a bbolt file (channel states,
//     payment records, secrets, queued chain actions).
//   - transport: the Transport interface; in-process hub and TCP (firmware.MeshTransport implements it
//     over the mesh).
//   - contracts: the Solidity settlement contract, its pinned compiler and committed bindings.
//   - chain: the contract adapter (simulated backend or JSON-RPC), the ChannelClosed watcher and the
//     durable queue of on-chain actions.
//   - this package: Node, which owns the channels of one unit. Node.Pay(ctx, partner, amount, id) is a
//     direct transfer that returns once the partner has stored the signed proof; a non-zero id makes a
//     retried payment (after a timeout or a restart) never pay twice. Node.PayRoute pays over a chain of
//     channels with hash locks; PayRouteWithFee adds a fee budget from which each mediator keeps
//     its Config.MediationFee (the target must receive at least the amount, or the initiator
//     never reveals the secret). A hop that cannot forward refunds its incoming lock to its
//     payer (a lock of the same hash, amount and expiry back, so the two cancel out whatever
//     happens to the secret), the refund travels back to the initiator, whose call fails at once
//     with ErrRouteFailed; the initiator forgets that secret, and the locks and refunds leave the
//     proofs unpaid at their expiry. Channels are keyed by channel id (a partner may have several, one
//     per token); every message, deposit and withdrawal touches only the channel it names, and
//     partner-addressed calls use the first channel with that partner that is not being settled.
//     Node is a runner around a pure core (core.go), in the shape of etcd raft's Step/Ready:
//     the core takes one event of a closed set (events.go: API calls, peer frames, the time
//     passing) with the time it happens and returns data (ready): the records to persist, the
//     frames that may leave only once they are durable, the frames that may leave now, answers
//     to callers and refused frames. It reads no clock, sends nothing, writes nothing and reads
//     its disk only through StoreReader. The runner's loop goroutine steps it; a committer
//     goroutine writes each cut with one fsync (group commit) through the ledger.Store
//     interface and only then sends its frames. Payments taken while a cut is being written
//     share one signed proof in the next cut. Refused peer frames go to Config.OnRefused.
//     Mediated transfers survive a restart of any hop: the routes of pending locks are stored
//     with them (own and incoming), re-sent as LockRoute frames with a re-sent update or to a
//     partner that restarted, and a restarted hop forwards (or asks for the secret) once its
//     channels are synced.
//
// This package must not talk to a chain itself (chain does, and only reports, with the chain's own
// time for anything that expires on chain) and must not trust a peer: every update and every
// acknowledgement is signed and checked by the state machine before it touches the disk. The
// unsigned messages (Sync, secret requests, lock routes) are taken as coming from the transport's `from`,
// which every Transport authenticates (the TCP transport by a signed challenge-response hello). The
// contract pays settle and unlock out by pull (withdrawBalance; the keeper collects).
//
// A unit whose store lost a withdrawal it agreed to (as requester or co-signer) takes it back
// from the partner's Sync, which carries every pending agreement with both signatures
// (Info.Withdrawal is the requester's proof for the chain again).
//
// The store refuses a torn or corrupted file at open (store/torn.go, store/readonly.go) and Inspect
// reads one read-only for `fractals ledger inspect`.
//
// The checks beyond `go test ./ledger/...`: `go test -bench . ./ledger/...` (throughput and latency
// against the 10,000 transfers/s, p99 5 ms and 3-hop p99 20 ms targets, next to the sign+verify cost),
// `fractals ledger bench --transfers N --json`, and the fuzzers (`go test -fuzz FuzzDecodeUpdate
// ./ledger/channel` and the other Fuzz functions).
package ledger
