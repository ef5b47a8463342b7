package ledger

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
)

// The node is split the way etcd's raft is: core is the channel logic of one unit as a state
// machine that takes one event at a time (step) and says, as data, what must happen (ready):
// records to persist, messages that may leave only once those records are durable, messages
// that may leave now, answers to callers and refused frames. It reads no clock (the time comes
// with each step), sends nothing and writes nothing; it reads its disk only through StoreReader,
// at start and to answer a retried payment. The runner (Node, node.go) owns the goroutines, the
// clock, the transport and the group commit, and tells the core when a cut is durable
// (persisted).

// StoreReader is what the core reads of its disk: the state at start, and the records that
// answer a retried payment or name finished routes.
type StoreReader interface {
	Channels() ([]*channel.Channel, error)
	LookupPayment(partner channel.Address, id uint64) (store.Payment, error)
	Meta(key string) ([]byte, error)
	MetaPrefix(prefix string) ([]store.KV, error)
}

// coreConfig is what the core takes of Config: its key, its disk's reads and its timings.
type coreConfig struct {
	Signer                    channel.Signer
	Store                     StoreReader
	Resend                    time.Duration
	LockTimeout, RevealMargin time.Duration
	PaidMemory                int
	MediationFee              FeeSchedule
}

// core owns all channel state of one unit. Only the runner's loop goroutine calls it.
type core struct {
	cfg  coreConfig
	self channel.Address
	// stepTime is the time the runner gave with the event being stepped.
	stepTime time.Time

	// channels are keyed by on-chain channel id: a unit may hold several channels with one
	// partner (one per token), so nothing that arrives for one of them may touch another.
	channels  map[channel.Hash]*chanState
	byPartner map[channel.Address][]channel.Hash // in the order the channels were added
	paid      map[payKey]uint64
	secrets   map[channel.Hash]channel.Hash
	// lockRoutes are the routes of own pending locks, by secret hash (re-sent with resent updates).
	lockRoutes map[channel.Hash]channel.RouteInfo
	// inRoutes are the routes of locks partners hold towards us, by secret hash (resumeLocks).
	inRoutes map[channel.Hash]channel.RouteInfo
	routes   map[channel.Hash]*routed
	routeIDs map[string]channel.Hash // ids of routes started since the last restart (also on disk)
	requests map[channel.Hash]request

	// batch gathers the records of the next cut; out the frames that leave after it is durable.
	batch store.Batch
	out   []outFrame
	// outNow are frames that depend on nothing unwritten; answers and refusals go out at once.
	outNow   []outFrame
	answers  []Answer
	refusals []Refusal
	// durable answers wait for the next cut to be on disk.
	durable []reply[error]
	// coalescing lists the channels with payments waiting for flushPayments.
	coalescing []*chanState
	// cutting: a cut was handed out and is not yet persisted; the next one waits for it.
	cutting bool

	// paidDurable lists, oldest first, the ids in paid whose record is on disk: only those are
	// forgotten beyond cfg.PaidMemory, since the store answers a retry of them. Ids still on their
	// way to disk (paidCommitting, or in batch) must stay: the store would not find them yet.
	paidDurable, paidCommitting []payKey

	stats *statsBox
}

// ready is what the core asks of its runner after the steps since the last ready.
type ready struct {
	// send may leave at once: nothing in them depends on an unwritten record.
	send []outFrame
	// answers may be delivered at once; refusals reach Config.OnRefused.
	answers  []Answer
	refusals []Refusal
	// cut is nil when no cut was allowed, one is still being written, or there is nothing to do.
	cut *cut
}

// cut is one group commit: the records to write with one fsync, then the frames that may leave
// and the answers that may be delivered only once they are durable.
type cut struct {
	batch store.Batch
	// received: the batch holds partner proofs (for the crash points).
	received bool
	out      []outFrame
	answers  []reply[error]
}

// Answer is the reply to one caller of the node's API. The runner delivers it; every reply
// channel has room for its one answer, so delivering never blocks.
type Answer interface{ deliver() }

// reply is an Answer of type T on the caller's channel.
type reply[T any] struct {
	to    chan T
	value T
}

func (r reply[T]) deliver() { r.to <- r.value }

func replyTo[T any](to chan T, v T) reply[T] { return reply[T]{to: to, value: v} }

// tickEvent is the time passing: re-send what is unacknowledged, expire locks, repeat secrets.
type tickEvent struct{}

// statsBox guards the counters, which the core and the runner write and Stats reads.
type statsBox struct {
	mu sync.Mutex
	s  Stats
}

func (b *statsBox) count(f func(*Stats)) {
	b.mu.Lock()
	f(&b.s)
	b.mu.Unlock()
}

func (b *statsBox) get() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s
}

// newCore loads the channels and the mediated-transfer records from the store. Channels loaded
// from disk are unsynced: a Sync to each partner is the first thing the first cut sends, and
// nothing new is signed on them until the partner has answered.
func newCore(cfg coreConfig, self channel.Address, stats *statsBox) (*core, error) {
	c := &core{cfg: cfg, self: self, stats: stats,
		channels: map[channel.Hash]*chanState{}, byPartner: map[channel.Address][]channel.Hash{}, paid: map[payKey]uint64{},
		secrets: map[channel.Hash]channel.Hash{}, lockRoutes: map[channel.Hash]channel.RouteInfo{}, inRoutes: map[channel.Hash]channel.RouteInfo{},
		routes: map[channel.Hash]*routed{}, routeIDs: map[string]channel.Hash{}, requests: map[channel.Hash]request{}}
	stored, err := cfg.Store.Channels()
	if err != nil {
		return nil, fmt.Errorf("ledger node: load channels: %w", err)
	}
	for _, ch := range stored {
		if ch.Own.Address != self {
			return nil, fmt.Errorf("ledger node: stored channel %x belongs to %s, not %s", ch.Domain.ChannelID[:4], ch.Own.Address, self)
		}
		c.putChannel(&chanState{ch: ch})
	}
	for _, load := range []func() error{c.loadTokens, c.loadSecrets, c.loadRoutes, c.loadLockRoutes} {
		if err := load(); err != nil {
			return nil, fmt.Errorf("ledger node: %w", err)
		}
	}
	for _, id := range c.channelIDs() {
		cs := c.channels[id]
		c.send(cs.ch.Partner.Address, channel.EncodeSync(cs.ch.SyncMessage(true)))
	}
	return c, nil
}

// channelIDs lists the channels in the order of their ids, so what the core emits for all
// channels does not depend on map order.
func (c *core) channelIDs() []channel.Hash {
	ids := make([]channel.Hash, 0, len(c.channels))
	for id := range c.channels {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b channel.Hash) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

// step takes one event at time now. Payments are only gathered (one proof carries all taken
// together, flushPayments); anything else may sign on a channel too, so the payments before it
// are signed first.
func (c *core) step(now time.Time, e event) {
	c.stepTime = now
	if _, pay := e.(*payEvent); !pay {
		c.flushPayments()
	}
	c.handle(e)
}

// ready hands out what the steps since the last call produced. With cutAllowed (the runner's
// committer is idle) and no cut unpersisted, the gathered payments are signed and the records
// and frames that must wait for the disk leave as one cut; otherwise they keep gathering, since
// they could not leave before the next cut anyway.
func (c *core) ready(cutAllowed bool) ready {
	canCut := cutAllowed && !c.cutting
	if canCut {
		c.flushPayments()
	}
	var r ready
	if canCut {
		r.cut = c.takeCut()
	}
	r.send, c.outNow = c.outNow, nil
	r.answers, c.answers = c.answers, nil
	r.refusals, c.refusals = c.refusals, nil
	return r
}

// takeCut gathers everything changed since the last cut: the dirty channel records, the
// acknowledgements of received proofs (which must not leave before those proofs are on disk),
// the frames and the answers waiting for the disk. It returns nil when there is nothing.
func (c *core) takeCut() *cut {
	ct := &cut{batch: c.batch}
	for _, id := range c.channelIDs() {
		cs := c.channels[id]
		if cs.dirty {
			rec, err := store.Record(cs.ch)
			if err != nil {
				panic(fmt.Sprintf("ledger node: encode channel: %v", err)) // MarshalBinary cannot fail
			}
			ct.batch.Channels = append(ct.batch.Channels, rec)
			cs.dirty = false
		}
		if cs.ackDue {
			ct.received = true
			if a, err := cs.ch.AckFor(c.cfg.Signer); err == nil {
				c.send(cs.ch.Partner.Address, channel.EncodeAck(a))
			} // else: the partner re-sends its proof and the next cut acknowledges it
			cs.ackDue = false
		}
	}
	c.batch = store.Batch{}
	ct.out, c.out = c.out, nil
	if ct.batch.Empty() && len(ct.out) == 0 {
		return nil
	}
	ct.answers, c.durable = c.durable, nil
	c.paidCommitting = c.paidCommitting[:0]
	for _, p := range ct.batch.Payments {
		c.paidCommitting = append(c.paidCommitting, payKey{p.Partner, p.ID})
	}
	c.cutting = true
	return ct
}

// persisted tells the core the last cut is durable: its payment ids may now be answered from
// the store, and the next cut may be taken.
func (c *core) persisted() {
	c.cutting = false
	c.rememberDurable(c.paidCommitting...)
	c.paidCommitting = nil
}

// fail answers every caller still waiting with err: the disk refused a cut, so nothing more
// can be made durable. The core must not be stepped again.
func (c *core) fail(err error) []Answer {
	c.failAll(err)
	out := c.answers
	c.answers = nil
	return out
}
