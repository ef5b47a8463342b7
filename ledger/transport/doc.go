// Package transport carries ledger messages between units. The Transport interface is what
// firmware.MeshTransport implements over the mesh; this package has an in-process hub (tests,
// the community simulator) and a loopback/LAN TCP transport (the daemon's channels, the bench).
//
// A transport is best effort: it may drop, delay or duplicate frames, and the ledger copes
// (every update is self-contained and idempotent). It must preserve the order of frames between
// one pair of units while a link is up, and it must not interpret frames.
//
// A transport authenticates senders: the `from` given to the Handler is an address whose key the
// sender has proved to hold on that link, never merely a claim. The TCP transport opens every
// connection with a signed hello (hello.go): the dialler offers its address and an ephemeral
// X25519 key; the listener answers only a configured partner (AddPeer, Allow) with its address and
// its own ephemeral key; the dialler signs the transcript; only once that signature verified does
// the listener sign the transcript too. A stranger therefore makes the listener sign nothing. Both
// ends derive a session key from the ephemeral keys, and every frame after the hello carries a
// tag under it and its sequence number (session.go), so frames are bound to the authenticated
// connection: a relay or injector that saw the hello cannot add, replay or reorder frames.
// Failed hellos and refused frames go to the handler set by SetRefusalHandler (the errors wrap
// ErrHelloRefused or ErrBadFrameTag and name the remote end) and are counted (ListenerStats).
//
// The listener bounds what anyone may hold (hardening.go): at most DefaultMaxConns open incoming
// connections and DefaultHellosPerSec hellos started per second (beyond them a connection is
// closed unread), HelloTimeout for the hello, DefaultFrameTimeout for one frame once its first
// byte arrived, buffers that are allocated only after the hello and grow as a frame's bytes
// arrive (at most a 64 KiB chunk ahead, doubling), and one incoming connection per partner. The
// hello costs two signatures and two recoveries per connection, not per frame. The in-process hub
// knows its endpoints and delivers under the sending endpoint's address. Links are not encrypted
// (frames are authenticated, not secret); the devp2p (RLPx) transport of the mesh brings
// encrypted links.
//
// It must sign nothing with the unit's key but the hello digest, whose own tag keeps it apart from
// every ledger signature.
package transport
