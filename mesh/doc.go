// Package mesh carries messages between units: devp2p (RLPx, discovery v5, static peers), the fractals
// sub-protocol, gossip and store-and-forward for links that come and go. It moves bytes and knows
// nothing of what markets or channels decide with them.
package mesh
