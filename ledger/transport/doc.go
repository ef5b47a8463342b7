// Package transport carries ledger messages between units. The Transport interface is what the
// mesh layer will implement; this package has an in-process hub (tests) and a loopback/LAN TCP
// transport (tests and benchmarks).
//
// A transport is best effort: it may drop, delay or duplicate frames, and the ledger copes
// (every update is self-contained and idempotent). It must preserve the order of frames between
// one pair of units while a link is up, and it must not interpret frames.
//
// A transport authenticates senders: the `from` given to the Handler is an address whose key the
// sender has proved to hold on that link, never merely a claim. The TCP transport opens every
// connection with a signed hello (hello.go): the dialler offers its address and a fresh
// challenge, the listener answers with its address, its own fresh challenge and a signature over
// the dialler's challenge and both addresses, and the dialler answers with its signature over the
// listener's challenge and both addresses. A dialler that is not who it claims, a replayed hello
// (the challenge is new on every connection) or a listener that is not the peer being dialled is
// refused: the connection is closed and the error (wrapping ErrHelloRefused, naming the remote end)
// goes to the handler set by SetRefusalHandler. The hello costs two signatures and two recoveries
// per connection, not per frame. The in-process hub knows its endpoints and delivers under the
// sending endpoint's address. Links are not encrypted; the devp2p (RLPx) transport of the mesh
// issue brings encrypted links.
//
// It must sign nothing with the unit's key but the hello digest, whose own tag keeps it apart from
// every ledger signature.
package transport
