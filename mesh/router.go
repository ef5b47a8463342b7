package mesh

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/internal/clock"
)

// Options are the limits and lifetimes shared by every implementation of the mesh.
type Options struct {
	Community       string        // only envelopes of this community are delivered or relayed
	HopLimit        uint8         // gossip is relayed at most this many times
	TTL             time.Duration // lifetime of the envelopes this unit authors
	MaxTTL          time.Duration // envelopes expiring later than now+MaxTTL are refused
	QueuePerPeer    int           // store-and-forward envelopes kept for one absent peer
	QueueTotal      int           // store-and-forward envelopes kept in all
	RecentGossip    int           // broadcasts kept to hand to peers that (re)connect
	RecentBytes     int           // ... and their bytes at most
	QueueBytes      int           // bytes of store-and-forward and unacknowledged envelopes kept in all
	RateMsgs        float64       // messages per second a peer may send, sustained
	BurstMsgs       float64       // ... in one burst
	RateBytes       float64       // bytes per second a peer may send, sustained
	BurstBytes      float64       // ... in one burst
	SubBuffer       int           // messages a subscription holds before it drops the oldest
	DisconnectScore int           // a peer whose score falls to this is disconnected
	MaxStreams      int           // (author, destination) replay windows kept
	AuthorRateMsgs  float64       // messages per second one author's envelopes are delivered and relayed
	AuthorBurstMsgs float64       // ... in one burst
	LedgerRateMsgs  float64       // ... of CodeLedger: a payment stream between channel partners
	LedgerBurstMsgs float64       // ... in one burst
	NewAuthorRate   float64       // authors per second one neighbour may introduce (a replay window each)
	NewAuthorBurst  float64       // ... in one burst
}

// DefaultOptions returns the limits used when a field is zero.
func DefaultOptions(community string) Options {
	return Options{
		Community: community, HopLimit: 16, TTL: 30 * time.Minute, MaxTTL: 2 * time.Hour,
		QueuePerPeer: 512, QueueTotal: 8192, RecentGossip: 1024, RecentBytes: 4 << 20, QueueBytes: 16 << 20,
		RateMsgs: 500, BurstMsgs: 2000, RateBytes: 2 << 20, BurstBytes: 8 << 20,
		SubBuffer: 1024, DisconnectScore: -100, MaxStreams: 1 << 16,
		AuthorRateMsgs: 100, AuthorBurstMsgs: 500, NewAuthorRate: 16, NewAuthorBurst: 1024,
		LedgerRateMsgs: 500, LedgerBurstMsgs: 2000,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions(o.Community)
	fill := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	fillF := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	if o.HopLimit == 0 {
		o.HopLimit = d.HopLimit
	}
	if o.TTL == 0 {
		o.TTL = d.TTL
	}
	if o.MaxTTL == 0 {
		o.MaxTTL = d.MaxTTL
	}
	fill(&o.QueuePerPeer, d.QueuePerPeer)
	fill(&o.QueueTotal, d.QueueTotal)
	fill(&o.RecentGossip, d.RecentGossip)
	fill(&o.RecentBytes, d.RecentBytes)
	fill(&o.QueueBytes, d.QueueBytes)
	fill(&o.SubBuffer, d.SubBuffer)
	fill(&o.DisconnectScore, d.DisconnectScore)
	fill(&o.MaxStreams, d.MaxStreams)
	fillF(&o.RateMsgs, d.RateMsgs)
	fillF(&o.BurstMsgs, d.BurstMsgs)
	fillF(&o.RateBytes, d.RateBytes)
	fillF(&o.BurstBytes, d.BurstBytes)
	fillF(&o.AuthorRateMsgs, d.AuthorRateMsgs)
	fillF(&o.AuthorBurstMsgs, d.AuthorBurstMsgs)
	fillF(&o.LedgerRateMsgs, d.LedgerRateMsgs)
	fillF(&o.LedgerBurstMsgs, d.LedgerBurstMsgs)
	fillF(&o.NewAuthorRate, d.NewAuthorRate)
	fillF(&o.NewAuthorBurst, d.NewAuthorBurst)
	return o
}

// Score changes, by what a peer did. Duplicates, replays and expired envelopes cost nothing: honest
// gossip and store-and-forward produce them.
const (
	scoreGood       = 1
	scoreMaxGood    = 100
	scoreMalformed  = -25
	scoreOversized  = -50
	scoreBadSig     = -50
	scoreStranger   = -50 // another community's envelope
	scoreFarFuture  = -25 // expiry beyond MaxTTL
	scoreMisrouted  = -5  // a direct envelope for someone else
	scoreFlood      = -10 // each message over the rate budget
	scoreOwnEnvelop = 0
)

// link is how the router hands an encoded envelope to one neighbour. send must not block; it reports
// false when the link cannot take it now (the envelope then waits in store-and-forward). own marks
// what this unit authored, which a link sends ahead of relayed traffic so a flood passing through
// cannot starve the unit's own messages.
type link interface {
	send(code Code, raw []byte, own bool) bool
	ack(seq uint64) // tell the neighbour its direct envelope seq arrived
}

// resendAfter is how long a direct envelope may go unacknowledged on a live link before it is sent
// again (the receiver's replay window makes a second copy harmless).
const resendAfter = 3 * time.Second

type peerState struct {
	link        link
	info        *PeerInfo
	msgs, bytes bucket
	newAuthors  bucket // replay windows this neighbour made us open
	pace        *pacer // what we send it, held to its budgets
}

type queued struct {
	code    Code
	raw     []byte
	expires uint64
	seq     uint64    // of a direct envelope
	sentAt  time.Time // when it went out, while unacknowledged
	stream  streamKey // its author and destination
}

type streamKey struct{ author, to Address }

// router is the mesh logic shared by the devp2p node and the in-memory network: signing, replay
// windows, delivery to subscribers, gossip relay, store-and-forward, budgets and scores. It is safe
// for concurrent use; links are called with its lock held and must not call back into it.
type router struct {
	mu        sync.Mutex
	key       *ecdsa.PrivateKey
	self      Address
	clk       clock.Clock
	opt       Options
	nextSeq   map[Address]uint64
	windows   map[streamKey]*window
	authors   map[authorCode]*bucket
	subs      map[Code][]*subscription
	peerSubs  []*peerSub
	peers     map[Address]*peerState
	order     []Address // connected peers, sorted: relays go out in a reproducible order
	known     map[Address]*PeerInfo
	queues    map[Address][]queued
	inflight  map[Address][]queued // direct envelopes sent and not yet acknowledged, oldest first
	queuedAll int                  // direct envelopes held in queues and inflight, against QueueTotal
	heldBytes int                  // ... their bytes, against QueueBytes
	recentLen int                  // bytes in recent, against RecentBytes
	recent    []queued             // ring of recent broadcasts, oldest first
	paceHeld  int                  // bytes waiting for neighbours' budgets, against paceHoldBytes
	// windowsChanged is set when a window marks a delivery, until the windows are next exported.
	windowsChanged bool
	closed         bool
	counters       Counters
}

// Counters are a unit's totals, for the API and for tests.
type Counters struct {
	Delivered  uint64 `json:"delivered"`
	Relayed    uint64 `json:"relayed"`
	Duplicates uint64 `json:"duplicates"`
	Rejected   uint64 `json:"rejected"`
	Queued     uint64 `json:"queued"`
	Expired    uint64 `json:"expired"`
	// Throttled counts envelopes not passed to a neighbour because it had no budget left for them.
	Throttled uint64 `json:"throttled"`
}

func newRouter(key *ecdsa.PrivateKey, clk clock.Clock, opt Options) *router {
	return &router{
		key: key, self: crypto.PubkeyToAddress(key.PublicKey), clk: clk, opt: opt.withDefaults(),
		nextSeq: map[Address]uint64{}, windows: map[streamKey]*window{}, authors: map[authorCode]*bucket{}, subs: map[Code][]*subscription{},
		peers: map[Address]*peerState{}, known: map[Address]*PeerInfo{}, queues: map[Address][]queued{}, inflight: map[Address][]queued{},
	}
}

// seal signs a new envelope of this unit's stream towards to (zero: broadcast).
func (r *router) seal(to Address, code Code, payload []byte) (*Envelope, error) {
	if r.closed {
		return nil, ErrClosed
	}
	limit, ok := PayloadCap(code)
	if !ok {
		return nil, fmt.Errorf("%w: 0x%02x", ErrUnknownCode, uint8(code))
	}
	if len(payload) > limit {
		return nil, fmt.Errorf("%w: code 0x%02x payload %d bytes, cap %d", ErrTooLarge, uint8(code), len(payload), limit)
	}
	now := r.clk.Now()
	seq, ok := r.nextSeq[to]
	if !ok {
		// Start each stream at the clock in microseconds, so a unit that restarts without memory
		// still numbers above everything it sent before.
		seq = uint64(now.UnixMicro())
	}
	r.nextSeq[to] = seq + 1
	e := &Envelope{Code: code, To: to, Community: r.opt.Community, Seq: seq,
		ExpiryMs: uint64(now.Add(r.opt.TTL).UnixMilli()), Payload: append([]byte(nil), payload...)}
	if err := e.Sign(r.key); err != nil {
		return nil, err
	}
	return e, nil
}

// Send implements Mesh.Send.
func (r *router) Send(to Address, code Code, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if to == r.self || to == (Address{}) {
		return fmt.Errorf("mesh: send to %s: not a peer", to)
	}
	if err := r.room(to, len(payload)+envelopeOverhead+len(r.opt.Community)); err != nil {
		return err
	}
	e, err := r.seal(to, code, payload)
	if err != nil {
		return err
	}
	raw := e.Encode()
	q := queued{code: code, raw: raw, expires: e.ExpiryMs, seq: e.Seq, stream: streamKey{r.self, to}}
	if p, ok := r.peers[to]; ok && len(r.queues[to]) == 0 && r.sendDirect(p, q) {
		return nil
	}
	return r.enqueue(to, q)
}

// sendDirect sends one of this unit's direct envelopes to its destination now if the receiver's
// window and budget allow, and keeps it as unacknowledged.
func (r *router) sendDirect(p *peerState, q queued) bool {
	now := r.clk.Now()
	to := q.stream.to
	if !r.inSpan(to, q.seq) || !r.paceTake(p, len(q.raw), now) {
		return false
	}
	r.introduce(p, q.stream, true, now)
	if !p.link.send(q.code, q.raw, true) {
		return false
	}
	r.countOut(p, q.raw)
	q.sentAt = now
	r.inflight[to] = append(r.inflight[to], q)
	r.queuedAll++
	r.heldBytes += len(q.raw)
	return true
}

// Broadcast implements Mesh.Broadcast.
func (r *router) Broadcast(code Code, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, err := r.seal(Address{}, code, payload)
	if err != nil {
		return err
	}
	q := queued{code: code, raw: e.Encode(), expires: e.ExpiryMs, stream: streamKey{r.self, Address{}}}
	r.remember(q)
	for _, addr := range r.order {
		r.transmit(r.peers[addr], q, true)
	}
	return nil
}

// inSpan reports whether direct envelope seq may go out to a peer now: the unacknowledged ones must
// all fit in the receiver's replay window, or a late one would fall below it and be lost.
func (r *router) inSpan(to Address, seq uint64) bool {
	list := r.inflight[to]
	return len(list) == 0 || seq-list[0].seq < windowBits
}

// room reports ErrQueueFull when a peer already has QueuePerPeer direct envelopes kept for it, or all
// peers QueueTotal: those waiting and those sent but unacknowledged count alike, since both are held
// until the peer confirms them (and go back to waiting if its link drops).
func (r *router) room(to Address, size int) error {
	r.dropExpired(to)
	if r.heldBytes+size > r.opt.QueueBytes {
		return fmt.Errorf("%w: %d bytes held for peers, limit %d", ErrQueueFull, r.heldBytes, r.opt.QueueBytes)
	}
	if held := len(r.queues[to]) + len(r.inflight[to]); held >= r.opt.QueuePerPeer || r.queuedAll >= r.opt.QueueTotal {
		return fmt.Errorf("%w: %d for %s, %d in all", ErrQueueFull, held, to, r.queuedAll)
	}
	return nil
}

// enqueue keeps q until its peer can take it; the caller checked room.
func (r *router) enqueue(to Address, q queued) error {
	r.queues[to] = append(r.queues[to], q)
	r.queuedAll++
	r.heldBytes += len(q.raw)
	r.counters.Queued++
	return nil
}

func (r *router) dropExpired(to Address) {
	now := uint64(r.clk.Now().UnixMilli())
	q := r.queues[to]
	keep := q[:0]
	for _, e := range q {
		if e.expires > now {
			keep = append(keep, e)
		} else {
			r.counters.Expired++
			r.heldBytes -= len(e.raw)
		}
	}
	r.queuedAll -= len(q) - len(keep)
	if len(keep) == 0 {
		delete(r.queues, to)
		return
	}
	r.queues[to] = keep
}

// remember keeps a broadcast for catch-up, dropping the oldest beyond RecentGossip envelopes or
// RecentBytes bytes (a count alone would let 1024 large envelopes hold 64 MB on a small box).
func (r *router) remember(q queued) {
	drop := 0
	for drop < len(r.recent) && (len(r.recent)-drop >= r.opt.RecentGossip || r.recentLen+len(q.raw) > r.opt.RecentBytes) {
		r.recentLen -= len(r.recent[drop].raw)
		drop++
	}
	if drop > 0 {
		r.recent = append(r.recent[:0], r.recent[drop:]...)
	}
	r.recent = append(r.recent, q)
	r.recentLen += len(q.raw)
}

func (r *router) countOut(p *peerState, raw []byte) {
	p.info.MsgsOut++
	p.info.BytesOut += uint64(len(raw))
}

// verdict is what the transport should do about a peer after one of its messages.
type verdict struct {
	err        error // why the message was not delivered (nil: delivered or a harmless duplicate)
	disconnect bool
}

// receive handles one encoded envelope that neighbour via handed over.
func (r *router) receive(via Address, raw []byte) verdict {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.peers[via]
	if !ok || r.closed {
		return verdict{err: fmt.Errorf("mesh: message from %s, not a connected peer", via)}
	}
	p.info.MsgsIn++
	p.info.BytesIn += uint64(len(raw))
	now := r.clk.Now()
	overBudget := !p.msgs.take(now, 1, r.opt.RateMsgs, r.opt.BurstMsgs) || !p.bytes.take(now, float64(len(raw)), r.opt.RateBytes, r.opt.BurstBytes)
	e, err := DecodeEnvelope(raw)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return r.penalise(p, scoreOversized, fmt.Errorf("mesh: from %s: %w", via, err))
		}
		return r.penalise(p, scoreMalformed, fmt.Errorf("mesh: from %s: %w", via, err))
	}
	if overBudget {
		return r.overPeerBudget(p)
	}
	return r.accept(p, e, raw, now)
}

// clockSlack is how far a neighbour's clock may run ahead of ours before its envelopes' expiries
// count as beyond MaxTTL: units keep time by NTP or GPS, but not to the millisecond.
const clockSlack = time.Minute

// farFuture drops an envelope expiring beyond MaxTTL. Only its author is punished: a relay cannot
// tell whether the author's clock or its own is off, and passed it on in good faith.
func (r *router) farFuture(p *peerState, e *Envelope) verdict {
	err := fmt.Errorf("mesh: from %s: expiry %d ms beyond the %v limit", p.info.Address, e.ExpiryMs, r.opt.MaxTTL)
	if e.Author == p.info.Address {
		return r.penalise(p, scoreFarFuture, err)
	}
	r.counters.Rejected++
	return verdict{err: err}
}

// overPeerBudget drops an envelope a neighbour sent beyond its per-peer budget, before its signature
// costs anything, and punishes the neighbour whoever the author is and whatever Hops says (neither
// tells who decided to send it down this link so fast): an honest unit paces what it sends each
// neighbour, relays included, below these budgets (pace.go), so only a flooder goes over them.
func (r *router) overPeerBudget(p *peerState) verdict {
	return r.penalise(p, scoreFlood, fmt.Errorf("mesh: %s over its budget of %.0f msg/s, %.0f B/s", p.info.Address, r.opt.RateMsgs, r.opt.RateBytes))
}

func (r *router) accept(p *peerState, e *Envelope, raw []byte, now time.Time) verdict {
	via := p.info.Address
	switch {
	case e.Community != r.opt.Community:
		return r.penalise(p, scoreStranger, fmt.Errorf("mesh: from %s: envelope of community %q, ours is %q", via, e.Community, r.opt.Community))
	case e.ExpiryMs > uint64(now.Add(r.opt.MaxTTL+clockSlack).UnixMilli()):
		return r.farFuture(p, e)
	case e.To != (Address{}) && e.To != r.self:
		return r.penalise(p, scoreMisrouted, fmt.Errorf("mesh: from %s: direct envelope for %s, not us", via, e.To))
	case e.Expired(now):
		r.counters.Expired++
		return verdict{}
	case e.Author == r.self:
		r.counters.Duplicates++
		return verdict{}
	}
	key := streamKey{e.Author, e.To}
	w := r.windows[key]
	if w != nil && w.seen(e.Seq) {
		r.counters.Duplicates++
		if e.To == r.self && e.Author == via && !w.belowWindow(e.Seq) {
			p.link.ack(e.Seq) // our first acknowledgement was lost: the sender is still waiting
		}
		return verdict{}
	}
	// Both budgets are looked at before the signature is verified, so traffic over them costs no
	// ecrecover, and charged only after, so envelopes forged in someone's name cannot spend it.
	fresh := w == nil
	if fresh && !p.newAuthors.ready(now, 1, r.opt.NewAuthorRate, r.opt.NewAuthorBurst) {
		// Throwaway author keys would fill the window table: a neighbour introduces new streams at a
		// bounded rate. An honest one paces its introductions below it (pace.go), relays included,
		// so going over it is punished whoever the authors are and whatever Hops says.
		return r.penalise(p, scoreFlood, fmt.Errorf("mesh: from %s: over its budget of %.0f new authors/s", via, r.opt.NewAuthorRate))
	}
	if !r.authorReady(e.Author, e.Code, now) {
		// An author over its budget is flooding the community: its surplus goes no further, so an
		// honest relay never passes a flood on to be punished for it.
		rate, _ := r.opt.authorRate(e.Code)
		if e.Author == via {
			return r.penalise(p, scoreFlood, fmt.Errorf("mesh: %s over its author budget of %.0f msg/s for code 0x%02x", via, rate, uint8(e.Code)))
		}
		r.counters.Rejected++
		return verdict{err: fmt.Errorf("mesh: from %s: author %s over its budget of %.0f msg/s for code 0x%02x", via, e.Author, rate, uint8(e.Code))}
	}
	if err := e.Verify(); err != nil {
		return r.penalise(p, scoreBadSig, fmt.Errorf("mesh: from %s: %w", via, err))
	}
	if fresh {
		p.newAuthors.take(now, 1, r.opt.NewAuthorRate, r.opt.NewAuthorBurst)
		w = r.newWindow(key, now)
	}
	r.authorBudget(e.Author, e.Code, now)
	w.mark(e.Seq)
	w.lastUsed = now.UnixMilli()
	r.windowsChanged = true
	if !fresh {
		// Only an established stream earns the neighbour credit: envelopes of throwaway authors
		// would otherwise buy an attacker the score to misbehave later.
		p.info.Score = min(p.info.Score+scoreGood, max(p.info.Score, scoreMaxGood))
	}
	r.counters.Delivered++
	r.deliver(Message{Code: e.Code, From: e.Author, Via: via, Seq: e.Seq, Payload: e.Payload})
	if e.To == (Address{}) {
		r.relay(e, via)
	} else if e.Author == via {
		p.link.ack(e.Seq)
	}
	return verdict{}
}

// authorBudget charges one message to its author's budget. The table is bounded: when it is full,
// buckets that have refilled (they hold nothing a new one would not) go first, then strangers'.
// Ledger traffic has its own budget per author, apart from everything else the author sends: a
// payment stream to a channel partner is many small messages a second, not a flood, and must not eat
// the budget of the author's market and telemetry messages (nor they its).
func (r *router) authorBudget(author Address, code Code, now time.Time) bool {
	k := authorCode{author, budgetClass(code)}
	b := r.authors[k]
	if b == nil {
		if len(r.authors) >= r.opt.MaxStreams {
			r.evictAuthors(now)
		}
		b = &bucket{}
		r.authors[k] = b
	}
	rate, burst := r.opt.authorRate(code)
	return b.take(now, 1, rate, burst)
}

// authorReady reports whether an author's budget holds a message, taking nothing and creating no
// entry (an author not in the table has a full budget).
func (r *router) authorReady(author Address, code Code, now time.Time) bool {
	b := r.authors[authorCode{author, budgetClass(code)}]
	if b == nil {
		return true
	}
	rate, burst := r.opt.authorRate(code)
	return b.ready(now, 1, rate, burst)
}

// authorCode keys an author's budget: CodeLedger, or CodeGossip standing for every other code.
type authorCode struct {
	author Address
	class  Code
}

func budgetClass(c Code) Code {
	if c == CodeLedger {
		return CodeLedger
	}
	return CodeGossip
}

// authorRate is the sustained rate and burst of one author's messages of code c.
func (o Options) authorRate(c Code) (rate, burst float64) {
	if c == CodeLedger {
		return o.LedgerRateMsgs, o.LedgerBurstMsgs
	}
	return o.AuthorRateMsgs, o.AuthorBurstMsgs
}

func (r *router) evictAuthors(now time.Time) {
	for a, b := range r.authors {
		rate, burst := r.opt.authorRate(a.class)
		if now.Sub(b.at).Seconds() >= burst/rate {
			delete(r.authors, a)
		}
	}
	for a := range r.authors {
		if len(r.authors) < r.opt.MaxStreams {
			return
		}
		if r.known[a.author] == nil {
			delete(r.authors, a)
		}
	}
	for a := range r.authors { // every author is a neighbour: the table is too small, make room
		if len(r.authors) < r.opt.MaxStreams {
			return
		}
		delete(r.authors, a)
	}
}

func (r *router) newWindow(key streamKey, now time.Time) *window {
	if len(r.windows) >= r.opt.MaxStreams {
		r.evictWindows(now)
	}
	w := &window{}
	r.windows[key] = w
	return w
}

// evictWindows makes room in a full window table. A stream idle for longer than MaxTTL can hold
// nothing that is not expired, so forgetting it lets no replay through. If that is not enough, the
// least recently used streams of authors who are not our neighbours go (a sixteenth of the table at
// once, so a flood of new authors does not sort the table each time): only then could a replay of
// theirs get through, and the neighbours' streams, those an attacker would most like to replay, stay.
func (r *router) evictWindows(now time.Time) {
	idle := now.Add(-r.opt.MaxTTL).UnixMilli()
	for k, w := range r.windows {
		if w.lastUsed < idle {
			delete(r.windows, k)
		}
	}
	if len(r.windows) < r.opt.MaxStreams {
		return
	}
	type aged struct {
		key  streamKey
		used int64
	}
	var strangers, all []aged
	for k, w := range r.windows {
		all = append(all, aged{k, w.lastUsed})
		if r.known[k.author] == nil {
			strangers = append(strangers, aged{k, w.lastUsed})
		}
	}
	victims := strangers
	if len(victims) == 0 {
		victims = all
	}
	sort.Slice(victims, func(i, j int) bool { return victims[i].used < victims[j].used })
	n := max(1, r.opt.MaxStreams/16)
	for _, v := range victims[:min(n, len(victims))] {
		delete(r.windows, v.key)
	}
}

// relay passes a broadcast on to every other neighbour, one hop further.
func (r *router) relay(e *Envelope, via Address) {
	if e.Hops+1 >= r.opt.HopLimit {
		r.remember(queued{code: e.Code, raw: e.Encode(), expires: e.ExpiryMs, stream: streamKey{e.Author, Address{}}})
		return
	}
	e.Hops++
	q := queued{code: e.Code, raw: e.Encode(), expires: e.ExpiryMs, stream: streamKey{e.Author, Address{}}}
	r.remember(q)
	for _, addr := range r.order {
		if addr == via || addr == e.Author {
			continue
		}
		r.transmit(r.peers[addr], q, false)
	}
}

func (r *router) penalise(p *peerState, delta int, err error) verdict {
	p.info.Score += delta
	r.counters.Rejected++
	return verdict{err: err, disconnect: p.info.Score <= r.opt.DisconnectScore}
}

// peerUp registers a neighbour, flushes what waited for it and hands it the recent broadcasts so a
// unit that was away catches up.
func (r *router) peerUp(addr Address, l link, info PeerInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	known := r.known[addr]
	if known == nil {
		if len(r.known) >= maxKnownPeers {
			r.forgetPeer()
		}
		known = &PeerInfo{Address: addr}
		r.known[addr] = known
	}
	score := known.Score
	*known = info
	known.Address, known.Connected, known.Score = addr, true, score
	p := &peerState{link: l, info: known, pace: newPacer()}
	if old, again := r.peers[addr]; !again {
		i := sort.Search(len(r.order), func(i int) bool { return r.order[i].Cmp(addr) >= 0 })
		r.order = append(r.order[:i], append([]Address{addr}, r.order[i:]...)...)
	} else {
		r.dropPaced(old)
	}
	r.peers[addr] = p
	r.flush(addr, p)
	now := uint64(r.clk.Now().UnixMilli())
	for _, q := range r.recent {
		if q.expires > now {
			r.transmit(p, q, q.stream.author == r.self)
		}
	}
	r.emit(PeerEvent{Peer: addr, Up: true, At: r.clk.Now()})
}

// maxKnownPeers bounds the peers remembered (with their scores) after they disconnect: an attacker
// connecting under ever new keys would otherwise grow the table without end.
const maxKnownPeers = 4096

// forgetPeer drops one disconnected peer from the table: one in good standing first (forgetting a
// bad score would let its owner start afresh), else any.
func (r *router) forgetPeer() {
	var bad Address
	found := false
	for a, p := range r.known {
		if p.Connected {
			continue
		}
		if p.Score >= 0 {
			delete(r.known, a)
			return
		}
		if !found {
			bad, found = a, true
		}
	}
	if found {
		delete(r.known, bad)
	}
}

func (r *router) flush(addr Address, p *peerState) {
	r.dropExpired(addr)
	q := r.queues[addr]
	sent := 0
	now := r.clk.Now()
	for _, e := range q {
		if !r.inSpan(addr, e.seq) || !r.paceTake(p, len(e.raw), now) || !p.link.send(e.code, e.raw, true) {
			break
		}
		r.introduce(p, e.stream, true, now)
		r.countOut(p, e.raw)
		e.sentAt = now
		r.inflight[addr] = append(r.inflight[addr], e)
		sent++
	}
	if sent == len(q) {
		delete(r.queues, addr)
	} else {
		r.queues[addr] = q[sent:]
	}
}

// retry flushes store-and-forward queues of connected peers whose links refused earlier.
func (r *router) retry() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, addr := range r.order {
		r.drainPaced(r.peers[addr])
	}
	for addr := range r.queues {
		if p, ok := r.peers[addr]; ok {
			r.flush(addr, p)
		}
	}
	r.resend()
}

// waiting reports whether anything waits for a retry: unacknowledged direct envelopes, envelopes
// held for a neighbour's budget, or store-and-forward for a neighbour that is connected.
func (r *router) waiting() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.inflight) > 0 || r.paceHeld > 0 {
		return true
	}
	for addr := range r.queues {
		if _, ok := r.peers[addr]; ok {
			return true
		}
	}
	return false
}

// resend sends again the direct envelopes a live link has not acknowledged for resendAfter.
func (r *router) resend() {
	now := r.clk.Now()
	nowMs := uint64(now.UnixMilli())
	for addr, list := range r.inflight {
		p, ok := r.peers[addr]
		if !ok {
			continue
		}
		keep := list[:0]
		for _, e := range list {
			if e.expires <= nowMs {
				r.counters.Expired++
				r.queuedAll--
				r.heldBytes -= len(e.raw)
				continue
			}
			if now.Sub(e.sentAt) >= resendAfter && r.paceTake(p, len(e.raw), now) && p.link.send(e.code, e.raw, true) {
				r.countOut(p, e.raw)
				e.sentAt = now
			}
			keep = append(keep, e)
		}
		if len(keep) == 0 {
			delete(r.inflight, addr)
		} else {
			r.inflight[addr] = keep
		}
	}
}

// acked drops a direct envelope the neighbour confirmed.
func (r *router) acked(via Address, seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.inflight[via]
	for i, e := range list {
		if e.seq == seq {
			r.inflight[via] = append(list[:i:i], list[i+1:]...)
			r.queuedAll--
			r.heldBytes -= len(e.raw)
			if len(r.inflight[via]) == 0 {
				delete(r.inflight, via)
			}
			if p, ok := r.peers[via]; ok && len(r.queues[via]) > 0 {
				r.flush(via, p) // the acknowledgement may have made room in the window
			}
			return
		}
	}
}

// Unacknowledged returns how many direct envelopes to a peer went out without an acknowledgement.
func (r *router) Unacknowledged(addr Address) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.inflight[addr])
}

func (r *router) peerDown(addr Address) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.peers[addr]
	if !ok {
		return
	}
	r.dropPaced(p)
	delete(r.peers, addr)
	// What the link took but the peer never confirmed goes back to the head of its queue.
	if back := r.inflight[addr]; len(back) > 0 {
		r.queues[addr] = append(back, r.queues[addr]...)
		delete(r.inflight, addr)
	}
	i := sort.Search(len(r.order), func(i int) bool { return r.order[i].Cmp(addr) >= 0 })
	r.order = append(r.order[:i], r.order[i+1:]...)
	r.known[addr].Connected = false
	r.emit(PeerEvent{Peer: addr, Up: false, At: r.clk.Now()})
}

// Peers implements Mesh.Peers: connected neighbours and those seen before, by address.
func (r *router) Peers() []PeerInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]PeerInfo, 0, len(r.known))
	for _, p := range r.known {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address.Cmp(out[j].Address) < 0 })
	return out
}

// Stats returns the unit's totals.
func (r *router) Stats() Counters {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counters
}

// QueuedFor returns how many envelopes wait in store-and-forward for a peer.
func (r *router) QueuedFor(addr Address) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queues[addr])
}

// Self implements Mesh.Self.
func (r *router) Self() Address { return r.self }

func (r *router) shutdown() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	for _, ss := range r.subs {
		for _, s := range ss {
			s.closeLocked()
		}
	}
	r.subs = map[Code][]*subscription{}
	for _, s := range r.peerSubs {
		s.closeLocked()
	}
	r.peerSubs = nil
}

// bucket is a token bucket on the injected clock.
type bucket struct {
	tokens float64
	at     time.Time
	init   bool
}

func (b *bucket) take(now time.Time, n, rate, burst float64) bool {
	if !b.init {
		b.tokens, b.at, b.init = burst, now, true
	}
	if dt := now.Sub(b.at).Seconds(); dt > 0 {
		b.tokens = min(burst, b.tokens+dt*rate)
		b.at = now
	}
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}
