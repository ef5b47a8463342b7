// Package transport carries ledger messages between units. The Transport interface is what the
// mesh layer will implement; this package has an in-process hub (tests) and a loopback/LAN TCP
// transport (tests and benchmarks).
//
// A transport is best effort: it may drop, delay or duplicate frames, and the ledger copes
// (every update is self-contained and idempotent). It must preserve the order of frames between
// one pair of units while a link is up, and it must not interpret frames. The TCP transport does
// not authenticate peers: every balance proof is signed, and the devp2p (RLPx) transport of the
// mesh issue brings authenticated links.
package transport
