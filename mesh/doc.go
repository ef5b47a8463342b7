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
// wrongly signed data until the peer is disconnected.
//
// MemNetwork runs that router for many units in one process on a simulated clock, with link latency,
// jitter and loss from one seed, pumped by Deliver: no goroutine per node or message.
package mesh
