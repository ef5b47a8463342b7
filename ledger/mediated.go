package ledger

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/internal/wire"
	"github.com/fractals-energy/fractals/ledger/store"
)

// A mediated transfer A→B→C→D: A locks the amount towards B under the hash of a secret only A
// knows; each mediator, once its incoming lock is durable, locks the same amount towards the next
// hop with an earlier expiry; the target asks A for the secret; the secret then travels back hop
// by hop and every payer, learning it from its payee, unlocks (pays) that payee. No hop can take
// its incoming amount without the payee downstream being able to claim its own.

type routeEvent struct {
	hops   []channel.Address
	amount uint64
	// fee is what the initiator adds to the lock for the mediators to keep (FeeSchedule).
	fee  uint64
	id   uint64
	done chan error
	// secret is drawn by the runner (Config.Rand) before the core sees the event.
	secret    channel.Hash
	secretErr error
}

// routed is a mediated payment this node initiated. Its record (without the callers) is kept on
// disk, so after a restart the node can still answer the target's secret request, and a payment
// retried with the same id is never paid twice.
type routed struct {
	secret channel.Hash
	target channel.Address
	first  channel.Address
	amount uint64
	id     uint64
	status routeStatus
	dones  []chan error
}

type routeStatus uint8

const (
	routePending routeStatus = iota
	routePaid
	routeExpired
	// routeFailed: a hop refunded the lock, or the target received less than the amount (the
	// mediators' fees were above the budget). The secret is never revealed.
	routeFailed
)

const (
	routePrefix   = "route/"
	routeIDPrefix = "route-id/"
)

func routeKey(h channel.Hash) string { return routePrefix + hex.EncodeToString(h[:]) }

func routeIDKey(target channel.Address, id uint64) string {
	return fmt.Sprintf("%s%s/%d", routeIDPrefix, hex.EncodeToString(target[:]), id)
}

// encodeRoute: target, first hop, amount, id, status.
func encodeRoute(r *routed) []byte {
	w := &wire.Writer{}
	w.Bytes(r.target[:])
	w.Bytes(r.first[:])
	w.U64(r.amount)
	w.U64(r.id)
	w.U8(uint8(r.status))
	return w.Buf
}

func decodeRoute(b []byte) (*routed, error) {
	r := wire.NewReader(b)
	out := &routed{}
	r.Fixed(out.target[:], "route target")
	r.Fixed(out.first[:], "route first hop")
	out.amount = r.U64("route amount")
	out.id = r.U64("route id")
	out.status = routeStatus(r.U8("route status"))
	if r.Err() == nil && out.status > routeFailed {
		r.Fail("route status %d, want 0..3", out.status)
	}
	if err := r.End("route record"); err != nil {
		return nil, err
	}
	return out, nil
}

// saveRoute writes the record with the batch that changes it.
func (c *core) saveRoute(h channel.Hash, r *routed) {
	c.batch.Meta = append(c.batch.Meta, store.KV{Key: routeKey(h), Value: encodeRoute(r)})
}

// loadRoutes brings back the pending mediated payments this node initiated.
func (c *core) loadRoutes() error {
	kvs, err := c.cfg.Store.MetaPrefix(routePrefix)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		r, err := decodeRoute(kv.Value)
		if err != nil {
			return fmt.Errorf("stored %s: %w", kv.Key, err)
		}
		h := common.HexToHash(kv.Key[len(routePrefix):])
		if r.status == routePending {
			r.secret = c.secrets[h]
			c.routes[h] = r
		}
	}
	return nil
}

// finishRoute records the outcome and answers every caller once it is on disk.
func (c *core) finishRoute(h channel.Hash, r *routed, status routeStatus, err error) {
	r.status = status
	c.saveRoute(h, r)
	if status == routeFailed {
		// Never reveal it: the refund this node holds (repeatSecrets reveals to every payer of
		// a lock with a known secret) and the locks downstream must all expire unpaid.
		delete(c.secrets, h)
		c.batch.Meta = append(c.batch.Meta, store.KV{Key: secretKey(h)})
	}
	for _, d := range r.dones {
		c.durable = append(c.durable, replyTo(d, err))
	}
	delete(c.routes, h)
}

// resumeRoute answers a PayRoute retried with an id already used.
func (c *core) resumeRoute(e *routeEvent, target channel.Address) bool {
	if e.id == 0 {
		return false
	}
	v, err := c.cfg.Store.Meta(routeIDKey(target, e.id))
	if err != nil || len(v) != 32 {
		if pending, ok := c.routeIDs[routeIDKey(target, e.id)]; ok {
			v = pending[:]
		} else {
			return false
		}
	}
	h := channel.Hash(v)
	if r, ok := c.routes[h]; ok {
		r.dones = append(r.dones, e.done)
		return true
	}
	rec, err := c.cfg.Store.Meta(routeKey(h))
	if err != nil || rec == nil {
		c.complete(e.done, fmt.Errorf("ledger node: payment %d to %s: record lost", e.id, target))
		return true
	}
	r, err := decodeRoute(rec)
	switch {
	case err != nil:
		c.complete(e.done, err)
	case r.status == routePaid:
		c.complete(e.done, nil)
	case r.status == routeFailed:
		c.complete(e.done, fmt.Errorf("ledger node: payment %d to %s: %w", e.id, target, ErrRouteFailed))
	default:
		c.complete(e.done, fmt.Errorf("ledger node: payment %d to %s: %w", e.id, target, errLockExpired))
	}
	return true
}

// request is an outstanding secret request of a target (kept in memory; repeated on the tick).
type request struct {
	initiator channel.Address
	msg       SecretRequest
}

// PayRoute pays amount to the last of hops through the others, over hash-locked transfers, and
// returns once the secret has come back from the target and the unlock to the first hop is on
// disk. hops[0] must be a channel partner.
func (n *Node) PayRoute(ctx context.Context, hops []channel.Address, amount, id uint64) error {
	return n.PayRouteWithFee(ctx, hops, amount, 0, id)
}

// PayRouteWithFee is PayRoute with a fee budget for the mediators: the first lock is amount +
// fee, each mediator keeps its own fee (Config.MediationFee) of what reaches it, and the target
// must receive at least amount (it keeps what the mediators left of the budget). When the
// target would receive less, or a hop cannot forward and refunds the lock, the call returns
// ErrRouteFailed and the secret is never revealed: nothing is paid, and the locks (the own one
// and the refund, which cancel out) are removed when they expire.
func (n *Node) PayRouteWithFee(ctx context.Context, hops []channel.Address, amount, fee, id uint64) error {
	if len(hops) == 0 || len(hops) > channel.MaxHops {
		return fmt.Errorf("ledger node: route of %d hops, want 1..%d", len(hops), channel.MaxHops)
	}
	if amount+fee < amount {
		return fmt.Errorf("ledger node: amount %d + fee %d overflows", amount, fee)
	}
	done := make(chan error, 1)
	if err := n.submit(&routeEvent{hops: append([]channel.Address(nil), hops...), amount: amount, fee: fee, id: id, done: done}); err != nil {
		return err
	}
	return n.wait(ctx, done)
}

const secretPrefix = "secret/"

func secretKey(h channel.Hash) string { return secretPrefix + hex.EncodeToString(h[:]) }

// loadSecrets reads back the secrets stored before a restart, so pending locks can still be
// unlocked or claimed.
func (c *core) loadSecrets() error {
	kvs, err := c.cfg.Store.MetaPrefix(secretPrefix)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		if len(kv.Value) != 32 {
			return fmt.Errorf("stored secret %s: %d bytes, want 32", kv.Key, len(kv.Value))
		}
		secret := channel.Hash(kv.Value)
		c.secrets[crypto.Keccak256Hash(secret[:])] = secret
	}
	return nil
}

func (c *core) handleRoute(e *routeEvent) {
	if c.resumeRoute(e, e.hops[len(e.hops)-1]) {
		return
	}
	cs := c.partnerChannel(e.hops[0])
	if cs == nil || !cs.synced {
		c.complete(e.done, fmt.Errorf("ledger node: no synced channel with first hop %s", e.hops[0]))
		return
	}
	if e.secretErr != nil {
		c.complete(e.done, fmt.Errorf("ledger node: secret: %w", e.secretErr))
		return
	}
	secret := e.secret
	h := crypto.Keccak256Hash(secret[:])
	lock := channel.Lock{Expiration: c.unixNow() + uint64(c.cfg.LockTimeout.Seconds()), Amount: e.amount + e.fee, SecretHash: h}
	route := channel.RouteInfo{PaymentID: e.id, Initiator: c.self, Target: e.hops[len(e.hops)-1], Hops: e.hops[1:]}
	u, err := cs.ch.AddLock(lock, route, c.unixNow(), c.cfg.Signer)
	if err != nil {
		c.complete(e.done, fmt.Errorf("ledger node: lock %d towards %s: %w", e.amount, e.hops[0], err))
		return
	}
	c.count(func(s *Stats) { s.Signed++ })
	c.rememberLockRoute(h, route)
	c.rememberSecret(h, secret)
	r := &routed{secret: secret, target: route.Target, first: e.hops[0], amount: e.amount, id: e.id, dones: []chan error{e.done}}
	c.routes[h] = r
	c.saveRoute(h, r)
	if e.id != 0 {
		c.routeIDs[routeIDKey(route.Target, e.id)] = h
		c.batch.Meta = append(c.batch.Meta, store.KV{Key: routeIDKey(route.Target, e.id), Value: append([]byte(nil), h[:]...)})
	}
	cs.dirty = true
	c.send(e.hops[0], channel.EncodeUpdate(u))
	cs.lastSend = c.now()
}

// rememberSecret keeps a secret in memory and on disk (with the batch that uses it).
func (c *core) rememberSecret(h, secret channel.Hash) {
	if _, ok := c.secrets[h]; ok {
		return
	}
	c.secrets[h] = secret
	c.batch.Meta = append(c.batch.Meta, store.KV{Key: secretKey(h), Value: append([]byte(nil), secret[:]...)})
}

// onLocksChanged forwards a new lock to the next hop, or asks the initiator for the secret when
// this node is the target.
func (c *core) onLocksChanged(cs *chanState, u channel.Update, r channel.Received) {
	for _, l := range r.Added {
		if hasLock(cs.ch.Own.Locks, l.SecretHash) {
			c.refunded(cs, l)
			return
		}
	}
	if u.Route == nil || len(u.Locks) == 0 {
		return
	}
	lock := u.Locks[len(u.Locks)-1] // AddLock appends: the route belongs to the last lock
	added := false
	for _, a := range r.Added {
		added = added || a == lock
	}
	if !added {
		return
	}
	rt := u.Route
	c.rememberInRoute(lock.SecretHash, *rt)
	if len(rt.Hops) == 0 {
		if rt.Target != c.self {
			return
		}
		req := SecretRequest{PaymentID: rt.PaymentID, SecretHash: lock.SecretHash, Amount: lock.Amount}
		c.requests[lock.SecretHash] = request{initiator: rt.Initiator, msg: req}
		// Asking is harmless, so it does not wait for the lock to reach the disk.
		c.sendNow(rt.Initiator, EncodeSecretRequest(req))
		return
	}
	c.forward(lock, *rt)
}

func (c *core) forward(in channel.Lock, rt channel.RouteInfo) {
	if c.ownLockUnder(in.SecretHash) {
		return // forwarded already, or refunded: never both
	}
	next := rt.Hops[0]
	out := c.partnerChannel(next)
	margin := uint64(c.cfg.RevealMargin.Seconds())
	if in.Expiration <= margin+c.unixNow() {
		return // the incoming lock simply expires
	}
	if out != nil && !out.synced {
		// Not yet synced after a restart: resumeLocks forwards it once the next hop answers our
		// Sync (the incoming lock and its route are durable by then).
		return
	}
	fee := c.cfg.MediationFee.Of(in.Amount)
	if out == nil || fee >= in.Amount {
		c.refund(in)
		return
	}
	lock := channel.Lock{Expiration: in.Expiration - margin, Amount: in.Amount - fee, SecretHash: in.SecretHash}
	fwd := channel.RouteInfo{PaymentID: rt.PaymentID, Initiator: rt.Initiator, Target: rt.Target, Hops: rt.Hops[1:]}
	u, err := out.ch.AddLock(lock, fwd, c.unixNow(), c.cfg.Signer)
	if err != nil {
		c.refund(in) // the next hop's channel cannot carry it (balance, lock limits)
		return
	}
	c.count(func(s *Stats) { s.Signed++ })
	c.rememberLockRoute(in.SecretHash, fwd)
	out.dirty = true
	c.send(next, channel.EncodeUpdate(u))
	out.lastSend = c.now()
}

// ownLockUnder reports whether any channel holds an own lock under h (forwarded or refunded).
func (c *core) ownLockUnder(h channel.Hash) bool {
	for _, cs := range c.channels {
		if hasLock(cs.ch.Own.Locks, h) {
			return true
		}
	}
	return false
}

// refund hands an incoming lock that cannot go on back to its payer as a lock of the same hash,
// amount and expiry the other way (a refund transfer): whatever happens to the secret, the two
// cancel out, so the payer may report the failure upstream at once without risk. Nothing is
// released early: a lock can only leave a proof unpaid at its expiry, since the payee could
// still close with the older proof that holds it.
func (c *core) refund(in channel.Lock) {
	for _, id := range c.channelIDs() {
		cs := c.channels[id]
		if !cs.synced || !hasLock(cs.ch.Partner.Locks, in.SecretHash) || hasLock(cs.ch.Own.Locks, in.SecretHash) {
			continue
		}
		i := findPartnerLock(cs.ch.Partner.Locks, in.SecretHash)
		back := cs.ch.Partner.Locks[i]
		u, err := cs.ch.AddLock(back, channel.RouteInfo{}, c.unixNow(), c.cfg.Signer)
		if err != nil {
			return // no balance to refund with: the incoming lock simply expires
		}
		c.count(func(s *Stats) { s.Signed++; s.Refunds++ })
		cs.dirty = true
		c.send(cs.ch.Partner.Address, channel.EncodeUpdate(u))
		cs.lastSend = c.now()
		return
	}
}

// refunded takes a refund from the payee of an own lock under the same hash: the route failed
// downstream. The initiator reports the failure to its caller (once durable) and never reveals
// the secret; a mediator refunds its own payer in turn.
func (c *core) refunded(cs *chanState, l channel.Lock) {
	if r, ok := c.routes[l.SecretHash]; ok && r.first == cs.ch.Partner.Address {
		c.finishRoute(l.SecretHash, r, routeFailed, fmt.Errorf("ledger node: lock %x refunded by %s: %w", l.SecretHash[:4], cs.ch.Partner.Address, ErrRouteFailed))
		return
	}
	c.refund(l)
}

// ErrRouteFailed is returned to the initiator of a mediated payment that failed downstream (a
// hop refunded the lock) or whose target would receive less than the amount; nothing was paid.
var ErrRouteFailed = errors.New("mediated payment failed: not paid")

const (
	lockRoutePrefix = "lockroute/"
	inRoutePrefix   = "inroute/"
)

func inRouteKey(h channel.Hash) string { return inRoutePrefix + hex.EncodeToString(h[:]) }

// rememberInRoute keeps the route of a lock the partner holds towards us, on disk with the batch
// that stores the lock, so a restart can still forward it or ask for its secret (resumeLocks):
// the partner, having our acknowledgement, never sends it again.
func (c *core) rememberInRoute(h channel.Hash, rt channel.RouteInfo) {
	if _, ok := c.inRoutes[h]; ok {
		return
	}
	c.inRoutes[h] = rt
	w := &wire.Writer{}
	writeRoute(w, rt)
	c.batch.Meta = append(c.batch.Meta, store.KV{Key: inRouteKey(h), Value: w.Buf})
}

// resumeLocks acts on every lock held towards us whose route we know and whose secret we do not:
// it forwards the lock (forward skips one already forwarded), or asks the initiator for the
// secret when we are the target. Run when a channel becomes synced, after a restart above all.
func (c *core) resumeLocks() {
	c.resumeRefunds()
	for _, cs := range c.channels {
		for _, l := range cs.ch.Partner.Locks {
			rt, ok := c.inRoutes[l.SecretHash]
			if !ok {
				continue
			}
			if _, known := c.secrets[l.SecretHash]; known {
				continue
			}
			c.actOnLock(l, rt)
		}
	}
}

// resumeRefunds finishes, after a restart, what a refund that reached the disk started: the
// initiator fails the route whose first hop refunded it, and a mediator refunds its own payer.
func (c *core) resumeRefunds() {
	for _, id := range c.channelIDs() {
		cs := c.channels[id]
		if !cs.synced {
			continue
		}
		for _, l := range cs.ch.Partner.Locks {
			if hasLock(cs.ch.Own.Locks, l.SecretHash) {
				c.refunded(cs, l)
			}
		}
	}
}

// actOnLock forwards an incoming lock, or asks for its secret when the route ends here.
func (c *core) actOnLock(l channel.Lock, rt channel.RouteInfo) {
	if len(rt.Hops) > 0 {
		c.forward(l, rt)
		return
	}
	if rt.Target != c.self {
		return
	}
	if _, asked := c.requests[l.SecretHash]; asked {
		return
	}
	req := SecretRequest{PaymentID: rt.PaymentID, SecretHash: l.SecretHash, Amount: l.Amount}
	c.requests[l.SecretHash] = request{initiator: rt.Initiator, msg: req}
	c.sendNow(rt.Initiator, EncodeSecretRequest(req))
}

func lockRouteKey(h channel.Hash) string { return lockRoutePrefix + hex.EncodeToString(h[:]) }

// rememberLockRoute keeps the route of an own lock (in memory, and on disk with the batch that
// signs the lock), to re-send it with a re-sent update.
func (c *core) rememberLockRoute(h channel.Hash, rt channel.RouteInfo) {
	c.lockRoutes[h] = rt
	w := &wire.Writer{}
	writeRoute(w, rt)
	c.batch.Meta = append(c.batch.Meta, store.KV{Key: lockRouteKey(h), Value: w.Buf})
}

// loadLockRoutes reads back the routes of own locks stored before a restart.
func (c *core) loadLockRoutes() error {
	kvs, err := c.cfg.Store.MetaPrefix(lockRoutePrefix)
	if err != nil {
		return err
	}
	if err := readRoutes(kvs, lockRoutePrefix, c.lockRoutes); err != nil {
		return err
	}
	if kvs, err = c.cfg.Store.MetaPrefix(inRoutePrefix); err != nil {
		return err
	}
	return readRoutes(kvs, inRoutePrefix, c.inRoutes)
}

func readRoutes(kvs []store.KV, prefix string, into map[channel.Hash]channel.RouteInfo) error {
	for _, kv := range kvs {
		r := wire.NewReader(kv.Value)
		rt := readRoute(r)
		if err := r.End("stored " + kv.Key); err != nil {
			return err
		}
		into[common.HexToHash(kv.Key[len(prefix):])] = rt
	}
	return nil
}

// sendLockRoutes follows a re-sent update with the routes of its locks.
func (c *core) sendLockRoutes(cs *chanState) {
	for _, l := range cs.ch.Own.Locks {
		if rt, ok := c.lockRoutes[l.SecretHash]; ok {
			c.send(cs.ch.Partner.Address, EncodeLockRoute(LockRoute{ChannelID: cs.ch.Domain.ChannelID, SecretHash: l.SecretHash, Route: rt}))
		}
	}
}

// pruneLockRoutes forgets the routes of locks that left every channel (unlocked or expired).
func (c *core) pruneLockRoutes(pending map[channel.Hash]bool) {
	for h := range c.lockRoutes {
		if !pending[h] {
			delete(c.lockRoutes, h)
			c.batch.Meta = append(c.batch.Meta, store.KV{Key: lockRouteKey(h)})
		}
	}
	for h := range c.inRoutes {
		if !pending[h] {
			delete(c.inRoutes, h)
			c.batch.Meta = append(c.batch.Meta, store.KV{Key: inRouteKey(h)})
		}
	}
}

// handleLockRoute acts on the route of a lock the partner holds towards us, as if it had come
// with the lock: forward it, or ask for the secret when we are the target; once only.
func (c *core) handleLockRoute(from channel.Address, frame []byte) error {
	m, err := DecodeLockRoute(frame)
	if err != nil {
		return err
	}
	cs := c.channels[m.ChannelID]
	if cs == nil || cs.ch.Partner.Address != from {
		return fmt.Errorf("lock route from %s: no channel %x with it", from, m.ChannelID[:4])
	}
	i := findPartnerLock(cs.ch.Partner.Locks, m.SecretHash)
	if i < 0 {
		return fmt.Errorf("lock route from %s for %x: no such lock of theirs", from, m.SecretHash[:4])
	}
	lock := cs.ch.Partner.Locks[i]
	if _, known := c.secrets[lock.SecretHash]; known {
		// Forwarded and paid downstream already (the secret came back; it stays while this
		// incoming lock is pending): forwarding again would pay twice.
		return nil
	}
	if len(m.Route.Hops) == 0 && m.Route.Target != c.self {
		return fmt.Errorf("lock route from %s for %x: ends at %s, not here", from, m.SecretHash[:4], m.Route.Target)
	}
	c.rememberInRoute(lock.SecretHash, m.Route)
	c.actOnLock(lock, m.Route)
	return nil
}

func findPartnerLock(locks []channel.Lock, h channel.Hash) int {
	for i, l := range locks {
		if l.SecretHash == h {
			return i
		}
	}
	return -1
}

func (c *core) handleSecretRequest(from channel.Address, frame []byte) error {
	m, err := DecodeSecretRequest(frame)
	if err != nil {
		return err
	}
	r, ok := c.routes[m.SecretHash]
	if !ok || r.target != from {
		return fmt.Errorf("secret request from %s for %x: no such payment to it", from, m.SecretHash[:4])
	}
	if m.Amount < r.amount {
		// The mediators kept more than the fee budget: revealing would pay less than the
		// amount. The route fails; its locks expire unpaid.
		c.finishRoute(m.SecretHash, r, routeFailed, fmt.Errorf("ledger node: payment to %s: %d arrived of %d: %w", from, m.Amount, r.amount, ErrRouteFailed))
		return nil
	}
	// The secret is on our disk since the lock was signed; revealing needs no new commit.
	c.sendNow(from, EncodeSecretReveal(SecretReveal{Secret: r.secret}))
	return nil
}

func (c *core) handleSecretReveal(from channel.Address, frame []byte) error {
	m, err := DecodeSecretReveal(frame)
	if err != nil {
		return err
	}
	h := crypto.Keccak256Hash(m.Secret[:])
	if !c.usesSecret(h) {
		return fmt.Errorf("secret reveal from %s for %x: no lock of ours uses it", from, h[:4])
	}
	c.rememberSecret(h, m.Secret)
	delete(c.requests, h)
	// The payee knows the secret, so pay it (it could claim the lock on chain anyway), unless the
	// lock has expired: then our own incoming lock has expired too and nobody would pay us back.
	mediator := false
	var refused error
	if cs := c.lockedTowards(from, h); cs != nil && cs.synced {
		mediator, refused = c.payUnlock(cs, from, h, m.Secret)
	}
	// Tell our own payers, so they unlock towards us. A mediator need not wait for its disk: if it
	// crashes before the secret is stored, its own unlock is not sent either, so the payee
	// downstream keeps revealing it (repeatSecrets). The target waits: nobody would tell it again.
	for _, cs := range c.channels {
		if partner := cs.ch.Partner.Address; partner != from && hasLock(cs.ch.Partner.Locks, h) {
			if mediator {
				c.sendNow(partner, EncodeSecretReveal(m))
			} else {
				c.send(partner, EncodeSecretReveal(m))
			}
		}
	}
	return refused
}

// payUnlock pays the lock under h towards from, and reports whether it did.
func (c *core) payUnlock(cs *chanState, from channel.Address, h, secret channel.Hash) (bool, error) {
	u, err := cs.ch.Unlock(secret, c.unixNow(), c.cfg.Signer)
	if err != nil {
		return false, err
	}
	c.count(func(s *Stats) { s.Signed++ })
	cs.dirty = true
	c.send(from, channel.EncodeUpdate(u))
	cs.lastSend = c.now()
	if r, ok := c.routes[h]; ok && r.first == from {
		// Paid once our unlock is on disk: the first hop holds the secret and could claim the
		// lock on chain anyway, and it will receive the unlock (re-sent until acknowledged).
		c.finishRoute(h, r, routePaid, nil)
	}
	return true, nil
}

// pendingLockHashes are the hashes of every pending lock, in either direction.
func (c *core) pendingLockHashes() map[channel.Hash]bool {
	out := map[channel.Hash]bool{}
	for _, cs := range c.channels {
		for _, l := range cs.ch.Own.Locks {
			out[l.SecretHash] = true
		}
		for _, l := range cs.ch.Partner.Locks {
			out[l.SecretHash] = true
		}
	}
	return out
}

// pruneSecretsAbove is how many secrets the node keeps before it forgets unneeded ones.
const pruneSecretsAbove = 256

// pruneSecrets forgets (in memory and on disk) the secrets no pending lock and no pending route
// of ours uses any more: an unlocked or expired lock needs its secret neither off nor on chain.
func (c *core) pruneSecrets(pending map[channel.Hash]bool) {
	if len(c.secrets) <= pruneSecretsAbove {
		return
	}
	for h := range c.secrets {
		if _, routed := c.routes[h]; routed || pending[h] {
			continue
		}
		delete(c.secrets, h)
		c.batch.Meta = append(c.batch.Meta, store.KV{Key: secretKey(h)})
	}
}

// usesSecret reports whether a pending lock (either direction) or a route of ours is under h, so
// a peer cannot make the node store secrets nobody needs.
func (c *core) usesSecret(h channel.Hash) bool {
	if _, ok := c.routes[h]; ok {
		return true
	}
	for _, cs := range c.channels {
		if hasLock(cs.ch.Own.Locks, h) || hasLock(cs.ch.Partner.Locks, h) {
			return true
		}
	}
	return false
}

// lockedTowards is the channel with partner holding an own lock under h (nil if none).
func (c *core) lockedTowards(partner channel.Address, h channel.Hash) *chanState {
	for _, id := range c.byPartner[partner] {
		if cs := c.channels[id]; hasLock(cs.ch.Own.Locks, h) {
			return cs
		}
	}
	return nil
}

func hasLock(locks []channel.Lock, h channel.Hash) bool {
	for _, l := range locks {
		if l.SecretHash == h {
			return true
		}
	}
	return false
}

// repeatSecrets re-sends what a lossy link may have dropped: secret requests of a target, and
// reveals to payers whose locks towards us are still pending although we know the secret.
func (c *core) repeatSecrets() {
	pending := c.pendingLockHashes()
	for h, r := range c.requests {
		if !pending[h] {
			delete(c.requests, h) // the lock expired or was settled: nobody will answer any more
			continue
		}
		c.sendNow(r.initiator, EncodeSecretRequest(r.msg))
	}
	c.pruneSecrets(pending)
	c.pruneLockRoutes(pending)
	for _, cs := range c.channels {
		for _, l := range cs.ch.Partner.Locks {
			if secret, ok := c.secrets[l.SecretHash]; ok {
				c.send(cs.ch.Partner.Address, EncodeSecretReveal(SecretReveal{Secret: secret}))
			}
		}
	}
}

// errLockExpired is returned to the initiator of a mediated payment whose lock expired unpaid.
var errLockExpired = errors.New("mediated payment expired before the secret came back")

// expireLocks takes back own locks whose expiry has passed.
func (c *core) expireLocks() {
	now := c.unixNow()
	for _, cs := range c.channels {
		partner := cs.ch.Partner.Address
		if !cs.synced {
			continue
		}
		for _, l := range cs.ch.Own.Locks {
			if now < l.Expiration {
				continue
			}
			u, err := cs.ch.RemoveExpired(l.SecretHash, now, c.cfg.Signer)
			if err != nil {
				continue
			}
			cs.dirty = true
			c.send(partner, channel.EncodeUpdate(u))
			cs.lastSend = c.now()
			if r, ok := c.routes[l.SecretHash]; ok {
				c.finishRoute(l.SecretHash, r, routeExpired, fmt.Errorf("ledger node: lock %x: %w", l.SecretHash[:4], errLockExpired))
			}
		}
	}
}

// Claim is an incoming lock whose secret this unit knows but whose payer has not unlocked it. Near
// its expiry the secret must be registered on chain and the channel closed, or the amount is lost.
type Claim struct {
	Domain  channel.Domain
	Partner channel.Address
	Lock    channel.Lock
	Secret  channel.Hash
	// Locks are all the partner's pending locks (the contract's unlock needs the full list).
	Locks []channel.Lock
	// PartnerProof is the partner's latest proof, to close the channel with.
	PartnerProof channel.BalanceProof
}

type claimsEvent struct {
	before uint64
	reply  chan []Claim
}

// Claims lists the incoming locks with a known secret that expire before the given Unix time.
func (n *Node) Claims(before uint64) []Claim {
	reply := make(chan []Claim, 1)
	if n.submit(&claimsEvent{before: before, reply: reply}) != nil {
		return nil
	}
	select {
	case c := <-reply:
		return c
	case <-n.done:
		return nil
	}
}

func (c *core) claims(before uint64) []Claim {
	var out []Claim
	for _, cs := range c.channels {
		partner := cs.ch.Partner.Address
		for _, l := range cs.ch.Partner.Locks {
			secret, ok := c.secrets[l.SecretHash]
			if !ok || l.Expiration > before {
				continue
			}
			out = append(out, Claim{Domain: cs.ch.Domain, Partner: partner, Lock: l, Secret: secret,
				Locks: append([]channel.Lock(nil), cs.ch.Partner.Locks...), PartnerProof: cs.ch.Partner.Proof})
		}
	}
	return out
}

// pruneRoutes forgets, with the batch that drops a settled channel, the records of finished
// mediated payments (paid or expired) whose first hop was its partner: nothing on or off chain can
// ask about them any more. An id used by a pruned record may pay again.
func (c *core) pruneRoutes(first channel.Address) error {
	kvs, err := c.cfg.Store.MetaPrefix(routePrefix)
	if err != nil {
		return fmt.Errorf("ledger node: pruning route records: %w", err)
	}
	for _, kv := range kvs {
		r, err := decodeRoute(kv.Value)
		if err != nil {
			return fmt.Errorf("ledger node: stored %s: %w", kv.Key, err)
		}
		if r.first != first || r.status == routePending {
			continue
		}
		c.batch.Meta = append(c.batch.Meta, store.KV{Key: kv.Key}, store.KV{Key: routeIDKey(r.target, r.id)})
	}
	return nil
}
