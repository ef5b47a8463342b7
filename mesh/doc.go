// Package mesh carries messages between units and knows nothing of what markets or channels decide
// with them.
//
// Every message travels in an Envelope signed by its author's secp256k1 key (author, destination,
// community, sequence number, expiry, payload), so a relayed message stays verifiable; replays (a
// sequence number already delivered or below the receiver's window) and expired envelopes are dropped.
// The router shared by every implementation delivers to subscribers by code, relays broadcasts to the
// other neighbours up to a hop limit, keeps direct sends for an absent peer in a bounded
// store-and-forward queue with expiry, hands recent broadcasts to a peer that (re)connects, and charges
// each peer a message and byte budget and a score that falls with malformed, oversized, foreign or
// wrongly signed data, or floods, until the peer is disconnected. A neighbour is held to a message
// budget, a byte budget and a budget of new authors it introduces (each a replay window), and going
// over any of them is punished whoever the envelopes claim as author and whatever their (unsigned)
// Hops says: every unit paces what it sends each neighbour, its relays included, below those budgets
// (pace.go), so an honest relay never goes over them however much others push through it; what does
// not fit waits, bounded, or is not passed on. Each author also has its own budget at every receiver,
// whose surplus goes no further. Budgets are looked at before a signature is verified and charged
// after, so a flood costs no ecrecover and forgeries spend nobody's budget. Queues and catch-up are
// bounded in bytes as well.
//
// A Node given a replay file (NodeConfig.ReplayFile) keeps its replay windows there across restarts:
// rewritten atomically every ReplayFlushEvery (5 s) while they change and once more on Close, read
// back at start (a damaged file is moved aside and logged, the node starts with empty windows). After
// a clean shutdown a replay of anything delivered before is dropped; after a crash, what was
// delivered in the last flush interval may be delivered once more, so consumers stay idempotent.
// Without a replay file (and in MemNetwork) the windows live in memory only. A unit's own streams
// restart above everything it sent before (numbered from the clock).
//
// Node runs the router over devp2p: one p2p.Server keyed by the unit key, the fractals/1
// sub-protocol (a hello exchanging version, community and capabilities, refused with a reason on a
// mismatch; ping/pong for round-trip times; one message code per envelope code, each with a size cap
// far below devp2p's 16 MiB, every message read in full or discarded), static and trusted peers, a
// peer limit, and discovery v5 whose record carries a "fractals" entry naming the community so only
// units of the same community are dialled. A disconnected misbehaving peer is refused for 10 minutes.
//
// MemNetwork runs that router for many units in one process on a simulated clock, with link latency,
// jitter and loss from one seed, pumped by Deliver: no goroutine per node or message.
package mesh
