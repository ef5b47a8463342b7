package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// Store is what the node needs of its disk: one durable group commit, and the reads it does at
// start and to answer a retried payment. *store.Store implements it.
type Store interface {
	// Commit makes the batch durable; when it returns nil, everything in it is on disk.
	Commit(b *store.Batch) error
	Channels() ([]*channel.Channel, error)
	LookupPayment(partner channel.Address, id uint64) (store.Payment, error)
	Meta(key string) ([]byte, error)
	MetaPrefix(prefix string) ([]store.KV, error)
}

var _ Store = (*store.Store)(nil)

// Config wires a Node to its key, disk, network and clock.
type Config struct {
	Signer    channel.Signer
	Store     Store
	Transport transport.Transport
	Clock     clock.Clock
	// Resend is how long an unacknowledged proof (or an unanswered Sync) waits before it is sent
	// again. Default 200 ms.
	Resend time.Duration
	// LockTimeout is how long the initiator's lock of a mediated transfer lives. Default 10 min.
	LockTimeout time.Duration
	// RevealMargin is how much earlier each hop's lock expires than the one it was paid with, so
	// a mediator always has time to claim its incoming lock. Default 1 min.
	RevealMargin time.Duration
	// MinSettleTimeout and MaxSettleTimeout bound the settle timeout of a channel the node takes:
	// shorter, a partner could close and settle before the watcher notices; longer, funds stay
	// frozen. Defaults 1 h and 30 days. LockTimeout + RevealMargin must be below the minimum, so
	// a lock can be claimed on chain within a channel's settle timeout.
	MinSettleTimeout, MaxSettleTimeout time.Duration
	// Tokens are the tokens the node takes channels in; the zero address is native coin.
	// Default: native coin only.
	Tokens []channel.Address
	// Rand supplies the secrets of mediated transfers. Default crypto/rand.
	Rand io.Reader
	// MaxBatch bounds how many events one group commit gathers. Default 4096.
	MaxBatch int
	// PaidMemory bounds how many ids of durable payments the node keeps in memory to answer a
	// retried Pay without a disk read; older ones are answered from their record on disk.
	// Default 4096.
	PaidMemory int
	// Hooks (tests only) are called at named points of the transfer path; see CrashPoint.
	Hook func(point CrashPoint)
	// OnRefused hears every frame from a peer the node refused (bad signature, unknown channel,
	// stale or malformed message), with the reason; the daemon logs and counts them. It runs on
	// the node's loop and must not block.
	OnRefused func(Refusal)
}

// Refusal is a peer's frame the node refused, and why.
type Refusal struct {
	From channel.Address
	// Kind is the frame's first byte (its message kind; zero for an empty frame).
	Kind channel.Kind
	Err  error
}

// CrashPoint names a moment in the transfer path where a crash test kills the process.
type CrashPoint string

// The named points of the transfer path.
const (
	PointSigned       CrashPoint = "signed"        // proofs signed in memory, nothing on disk yet
	PointCommitted    CrashPoint = "committed"     // batch fsynced, nothing sent yet
	PointSent         CrashPoint = "sent"          // batch sent, acknowledgements not yet seen
	PointReceived     CrashPoint = "received"      // partner proofs applied in memory, not on disk
	PointReceivedDone CrashPoint = "received-done" // partner proofs on disk, acknowledgement not sent
)

// ErrClosed is returned by calls on a stopped node.
var ErrClosed = errors.New("ledger node closed")

// ErrBusy is returned by Pay when maxWaiting payments already wait for a partner that has not
// answered our Sync yet: they cannot be signed before it does, and memory must stay bounded.
var ErrBusy = errors.New("too many payments waiting for the partner to re-establish the channel")

// maxWaiting bounds the payments queued on one unsynced channel.
const maxWaiting = 4096

// Node is one unit's ledger: its channels, the group-commit loop that signs, persists and sends
// their updates, and the handling of the partner's messages. All channel state is owned by the
// loop goroutine; the exported methods talk to it through the inbox.
type Node struct {
	cfg   Config
	self  channel.Address
	inbox chan event
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once

	// Owned by the loop goroutine:
	// channels are keyed by on-chain channel id: a unit may hold several channels with one
	// partner (one per token), so nothing that arrives for one of them may touch another.
	channels  map[channel.Hash]*chanState
	byPartner map[channel.Address][]channel.Hash // in the order the channels were added
	paid      map[payKey]uint64
	secrets   map[channel.Hash]channel.Hash
	// lockRoutes are the routes of own pending locks, by secret hash (re-sent with resent updates).
	lockRoutes map[channel.Hash]channel.RouteInfo
	// inRoutes are the routes of locks partners hold towards us, by secret hash (resumeLocks).
	inRoutes   map[channel.Hash]channel.RouteInfo
	routes     map[channel.Hash]*routed
	routeIDs   map[string]channel.Hash // ids of routes started since the last restart (also on disk)
	requests   map[channel.Hash]request
	batch      store.Batch
	commits    chan *cut
	commitDone chan error
	committed  chan struct{}
	out        []outFrame
	finished   []finish
	// coalescing lists the channels with payments waiting for flushPayments.
	coalescing []*chanState
	// durable answers wait for the next cut to be on disk; committing are those of the cut being written.
	durable, committing []finish
	fatal               error
	statsMu             sync.Mutex
	stats               Stats

	// paidDurable lists, oldest first, the ids in paid whose record is on disk: only those are
	// forgotten beyond cfg.PaidMemory, since the store answers a retry of them. Ids still on their
	// way to disk (paidCommitting, or in batch) must stay: the store would not find them yet.
	paidDurable, paidCommitting []payKey
}

// Stats counts what the node did (for tests and the bench).
type Stats struct {
	Commits, Signed, Received, Refused, Resent, Recovered int
	// Coalesced counts the payments the Signed direct proofs carried (several per proof when
	// they arrive together).
	Coalesced int
	// CommitTime is the time spent in group commits (fsync included); CommitMax the longest one.
	CommitTime, CommitMax time.Duration
}

type chanState struct {
	ch *channel.Channel
	// token is the channel's on-chain token (zero: native coin), as the chain reported it.
	token channel.Address
	// withdraw is the own withdrawal being negotiated (re-sent by the tick until confirmed).
	withdraw *withdrawEvent
	// settle is the own cooperative settle being negotiated (re-sent by the tick).
	settle  *settleEvent
	synced  bool
	waiting []*payEvent
	// coalescing are payments taken since the last flush: one proof will carry them all.
	coalescing []*payEvent
	waiters    []waiter
	dirty      bool
	ackDue     bool
	lastSend   time.Time
}

type waiter struct {
	nonce uint64
	done  chan error
}

type payKey struct {
	partner channel.Address
	id      uint64
}

type outFrame struct {
	to    channel.Address
	frame []byte
}

type finish struct {
	done chan error
	err  error
}

// event is one input of the node's loop. The set is closed: only the types in this file and in
// the files of this package implement it (isEvent), and handle names every one.
type event interface{ isEvent() }

type payEvent struct {
	partner channel.Address
	amount  uint64
	id      uint64
	done    chan error
}

type frameEvent struct {
	from  channel.Address
	frame []byte
	// Filled by recoverSigners for updates: the decoded update and its recovered signer.
	update    *channel.Update
	signer    channel.Address
	signerErr error
}

type addChannelEvent struct {
	domain  channel.Domain
	partner channel.Address
	token   channel.Address
	// opened: reported by the chain, deposits follow separately (an opening seen again keeps them).
	opened                  bool
	ownDeposit, partDeposit uint64
	done                    chan error
}

type queryEvent struct {
	partner channel.Address
	id      channel.Hash // used when partner is zero
	reply   chan Info
}

// Info is a snapshot of one channel.
type Info struct {
	Found  bool
	Domain channel.Domain
	// PartnerAddress is the other participant; Token the channel's token (zero: native coin).
	PartnerAddress, Token    channel.Address
	OwnNonce, PartnerNonce   uint64
	Acked                    uint64
	Sent, Received           uint64
	OwnBalance, PartnerBal   uint64
	OwnLocked, PartnerLocked uint64
	Synced                   bool
	Own, Partner             channel.BalanceProof
	OwnLocks, PartnerLocks   []channel.Lock
	// PartnerLockSecrets are the secrets this unit knows of the partner's pending locks.
	PartnerLockSecrets []channel.Hash
}

// NewNode loads the channels from the store and starts the loop. Channels loaded from disk are
// unsynced: nothing new is signed on them until the partner has answered a Sync.
func NewNode(cfg Config) (*Node, error) {
	if cfg.Signer == nil || cfg.Store == nil || cfg.Transport == nil {
		return nil, errors.New("ledger node: Signer, Store and Transport are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Resend <= 0 {
		cfg.Resend = 200 * time.Millisecond
	}
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = 10 * time.Minute
	}
	if cfg.RevealMargin <= 0 {
		cfg.RevealMargin = time.Minute
	}
	if cfg.MinSettleTimeout <= 0 {
		cfg.MinSettleTimeout = time.Hour
	}
	if cfg.MaxSettleTimeout <= 0 {
		cfg.MaxSettleTimeout = 30 * 24 * time.Hour
	}
	if cfg.MaxSettleTimeout < cfg.MinSettleTimeout {
		return nil, fmt.Errorf("ledger node: MaxSettleTimeout %v below MinSettleTimeout %v", cfg.MaxSettleTimeout, cfg.MinSettleTimeout)
	}
	if cfg.LockTimeout+cfg.RevealMargin >= cfg.MinSettleTimeout {
		return nil, fmt.Errorf("ledger node: LockTimeout %v + RevealMargin %v must be below MinSettleTimeout %v", cfg.LockTimeout, cfg.RevealMargin, cfg.MinSettleTimeout)
	}
	if cfg.Tokens == nil {
		cfg.Tokens = []channel.Address{{}}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 4096
	}
	if cfg.PaidMemory <= 0 {
		cfg.PaidMemory = 4096
	}
	n := &Node{cfg: cfg, self: cfg.Signer.Address(), inbox: make(chan event, 8192), quit: make(chan struct{}),
		done: make(chan struct{}), channels: map[channel.Hash]*chanState{}, byPartner: map[channel.Address][]channel.Hash{}, paid: map[payKey]uint64{},
		secrets: map[channel.Hash]channel.Hash{}, lockRoutes: map[channel.Hash]channel.RouteInfo{}, inRoutes: map[channel.Hash]channel.RouteInfo{}, routes: map[channel.Hash]*routed{}, routeIDs: map[string]channel.Hash{},
		requests: map[channel.Hash]request{},
		commits:  make(chan *cut, 1), commitDone: make(chan error, 1), committed: make(chan struct{})}
	stored, err := cfg.Store.Channels()
	if err != nil {
		return nil, fmt.Errorf("ledger node: load channels: %w", err)
	}
	for _, c := range stored {
		if c.Own.Address != n.self {
			return nil, fmt.Errorf("ledger node: stored channel %x belongs to %s, not %s", c.Domain.ChannelID[:4], c.Own.Address, n.self)
		}
		n.putChannel(&chanState{ch: c})
	}
	if err := n.loadTokens(); err != nil {
		return nil, fmt.Errorf("ledger node: %w", err)
	}
	if err := n.loadSecrets(); err != nil {
		return nil, fmt.Errorf("ledger node: %w", err)
	}
	if err := n.loadRoutes(); err != nil {
		return nil, fmt.Errorf("ledger node: %w", err)
	}
	if err := n.loadLockRoutes(); err != nil {
		return nil, fmt.Errorf("ledger node: %w", err)
	}
	cfg.Transport.SetHandler(n.deliver)
	for _, cs := range n.channels {
		n.send(cs.ch.Partner.Address, channel.EncodeSync(cs.ch.SyncMessage(true)))
	}
	go n.committer()
	go n.loop()
	return n, nil
}

// Address is the node's account.
func (n *Node) Address() channel.Address { return n.self }

// Close stops the loop. Pending calls return ErrClosed.
func (n *Node) Close() error {
	n.once.Do(func() { close(n.quit) })
	<-n.done
	return nil
}

// Stats returns the counters.
func (n *Node) Stats() Stats {
	n.statsMu.Lock()
	defer n.statsMu.Unlock()
	return n.stats
}

func (n *Node) count(f func(*Stats)) {
	n.statsMu.Lock()
	f(&n.stats)
	n.statsMu.Unlock()
}

// AddChannel registers a channel opened on chain (or updates its deposits). A new channel has no
// history, so it is synced from the start.
func (n *Node) AddChannel(d channel.Domain, partner channel.Address, ownDeposit, partnerDeposit uint64) error {
	done := make(chan error, 1)
	if err := n.submit(&addChannelEvent{domain: d, partner: partner, ownDeposit: ownDeposit, partDeposit: partnerDeposit, done: done}); err != nil {
		return err
	}
	return n.wait(context.Background(), done)
}

// Opening is a channel the chain reports opened with this unit.
type Opening struct {
	Domain  channel.Domain
	Partner channel.Address
	// Token is the channel's token (zero: native coin); SettleTimeout its settle timeout in seconds.
	Token         channel.Address
	SettleTimeout uint64
}

// ChannelOpened registers a channel the chain reports opened (deposits follow with
// ChainDeposited). Reporting the same opening again is harmless.
func (n *Node) ChannelOpened(o Opening) error {
	if !slices.Contains(n.cfg.Tokens, o.Token) {
		return fmt.Errorf("ledger node: channel %x with %s: token %s not accepted", o.Domain.ChannelID[:4], o.Partner, o.Token)
	}
	lo, hi := uint64(n.cfg.MinSettleTimeout.Seconds()), uint64(n.cfg.MaxSettleTimeout.Seconds())
	if o.SettleTimeout < lo || o.SettleTimeout > hi {
		return fmt.Errorf("ledger node: channel %x with %s: settle timeout %d s outside %d..%d s", o.Domain.ChannelID[:4], o.Partner, o.SettleTimeout, lo, hi)
	}
	done := make(chan error, 1)
	if err := n.submit(&addChannelEvent{domain: o.Domain, partner: o.Partner, token: o.Token, opened: true, done: done}); err != nil {
		return err
	}
	return n.wait(context.Background(), done)
}

type settledEvent struct {
	domain channel.Domain
	done   chan error
}

// ChainSettled tells the node the chain settled the channel: it is forgotten (memory and disk), so
// the same pair of participants can open a new epoch of it.
func (n *Node) ChainSettled(d channel.Domain) error {
	done := make(chan error, 1)
	if err := n.submit(&settledEvent{domain: d, done: done}); err != nil {
		return err
	}
	return n.wait(context.Background(), done)
}

func (n *Node) handleSettled(d channel.Domain) error {
	cs, ok := n.channels[d.ChannelID]
	if !ok || cs.ch.Domain.Epoch > d.Epoch {
		return nil
	}
	partner := cs.ch.Partner.Address
	n.dropChannel(cs, fmt.Errorf("ledger node: channel %x epoch %d settled on chain", d.ChannelID[:4], cs.ch.Domain.Epoch))
	return n.pruneRoutes(partner)
}

// Pay transfers amount directly to partner and returns once the partner has stored the signed
// proof durably. A non-zero id makes the payment idempotent: paying the same id again (after a
// timeout or a restart) never pays twice, it waits for the first one. If ctx ends first the
// payment may still complete; retry with the same id to learn the outcome.
func (n *Node) Pay(ctx context.Context, partner channel.Address, amount, id uint64) error {
	done := make(chan error, 1)
	if err := n.submit(&payEvent{partner: partner, amount: amount, id: id, done: done}); err != nil {
		return err
	}
	return n.wait(ctx, done)
}

// Channel returns a snapshot of the channel with partner (the first one added that is not being
// settled, when there are several; ChannelByID names one exactly).
func (n *Node) Channel(partner channel.Address) Info {
	return n.query(&queryEvent{partner: partner, reply: make(chan Info, 1)})
}

// ChannelByID returns a snapshot of the channel with the given on-chain id (the chain watcher
// looks channels up this way).
func (n *Node) ChannelByID(id channel.Hash) Info {
	return n.query(&queryEvent{id: id, reply: make(chan Info, 1)})
}

func (n *Node) query(q *queryEvent) Info {
	reply := q.reply
	if n.submit(q) != nil {
		return Info{}
	}
	select {
	case i := <-reply:
		return i
	case <-n.done:
		return Info{}
	}
}

func (n *Node) submit(e event) error {
	select {
	case <-n.done:
		return ErrClosed
	default:
	}
	select {
	case n.inbox <- e:
		return nil
	case <-n.done:
		return ErrClosed
	}
}

func (n *Node) wait(ctx context.Context, done chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		select {
		case err := <-done:
			return err
		default:
			return ErrClosed
		}
	}
}

// deliver is the transport handler.
func (n *Node) deliver(from channel.Address, frame []byte) {
	select {
	case n.inbox <- &frameEvent{from: from, frame: frame}:
	case <-n.done:
	}
}

func (n *Node) loop() {
	defer close(n.done)
	defer func() {
		close(n.commits)
		<-n.committed
	}()
	tick := n.cfg.Clock.NewTicker(n.cfg.Resend / 2)
	defer tick.Stop()
	events := make([]event, 0, n.cfg.MaxBatch)
	busy := false // the committer is writing a cut; changes meanwhile go into the next one
	for {
		events = events[:0]
		select {
		case <-n.quit:
			n.finalCut(busy)
			return
		case <-tick.C():
			n.tick()
		case e := <-n.inbox:
			events = append(events, e)
		case err := <-n.commitDone:
			busy = false
			if err == nil {
				for _, f := range n.committing {
					f.done <- f.err
				}
				n.committing = nil
				n.rememberDurable(n.paidCommitting...)
				n.paidCommitting = nil
			}
			if err != nil {
				n.fatal = err
				n.failAll(err)
				return
			}
		}
	drain:
		for len(events) < n.cfg.MaxBatch {
			select {
			case e := <-n.inbox:
				events = append(events, e)
			default:
				break drain
			}
		}
		n.recoverSigners(events)
		for _, e := range events {
			if _, pay := e.(*payEvent); !pay {
				// Anything else may sign on a channel too: the payments before it go first.
				n.flushPayments()
			}
			n.handle(e)
		}
		if !busy {
			// Payments wait while the committer writes: they could not leave before the next
			// cut anyway, and so one proof carries all that arrived meanwhile.
			n.flushPayments()
		}
		// Answers depend only on acknowledgements (the partner's disk), never on our own pending
		// commit, so callers hear at once.
		for _, f := range n.finished {
			f.done <- f.err
		}
		n.finished = n.finished[:0]
		if !busy {
			busy = n.cut()
		}
	}
}

// recoverSigners decodes the batch's updates and recovers their signers on every core: signature
// recovery is the most expensive step of receiving, and it needs no channel state.
func (n *Node) recoverSigners(events []event) {
	var updates []*frameEvent
	for _, e := range events {
		if f, ok := e.(*frameEvent); ok && len(f.frame) > 0 && channel.Kind(f.frame[0]) == channel.KindUpdate {
			updates = append(updates, f)
		}
	}
	workers := runtime.GOMAXPROCS(0)
	if len(updates) < 4 || workers < 2 {
		return // handleUpdate does it inline
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(updates); i = int(next.Add(1)) - 1 {
				f := updates[i]
				u, err := channel.DecodeUpdate(f.frame)
				if err != nil {
					continue // handleUpdate reports it
				}
				f.update = &u
				f.signer, f.signerErr = channel.Recover(u.Proof.Digest(), u.Proof.Signature)
			}
		}()
	}
	wg.Wait()
}

func (n *Node) hook(p CrashPoint) {
	if n.cfg.Hook != nil {
		n.cfg.Hook(p)
	}
}

// finalCut writes what was signed or received since the last cut before the node stops.
func (n *Node) finalCut(busy bool) {
	if busy && <-n.commitDone != nil {
		return
	}
	for _, f := range n.committing {
		f.done <- f.err
	}
	n.committing = nil
	n.flushPayments()
	if n.cut() && <-n.commitDone == nil {
		for _, f := range n.committing {
			f.done <- f.err
		}
	}
}

// cut is one batch handed from the loop to the committer: the encoded states to write, then the
// frames to send, in that order.
type cut struct {
	batch    store.Batch
	received bool
	out      []outFrame
}

// cut hands everything gathered since the last cut to the committer, which writes it with one
// fsync (group commit) while the loop already signs and verifies the next batch. It reports
// whether the committer got work.
func (n *Node) cut() bool {
	c := &cut{batch: n.batch}
	for _, cs := range n.channels {
		if cs.dirty {
			rec, err := store.Record(cs.ch)
			if err != nil {
				panic(fmt.Sprintf("ledger node: encode channel: %v", err)) // MarshalBinary cannot fail
			}
			c.batch.Channels = append(c.batch.Channels, rec)
			cs.dirty = false
		}
		if cs.ackDue {
			c.received = true
			if a, err := cs.ch.AckFor(n.cfg.Signer); err == nil {
				n.send(cs.ch.Partner.Address, channel.EncodeAck(a))
			} // else: the partner re-sends its proof and the next cut acknowledges it
			cs.ackDue = false
		}
	}
	n.batch = store.Batch{}
	c.out, n.out = n.out, nil
	if c.batch.Empty() && len(c.out) == 0 {
		return false
	}
	n.committing, n.durable = n.durable, nil
	n.paidCommitting = n.paidCommitting[:0]
	for _, p := range c.batch.Payments {
		n.paidCommitting = append(n.paidCommitting, payKey{p.Partner, p.ID})
	}
	n.commits <- c // never blocks: the committer is idle and the channel has room for one
	return true
}

// committer writes each cut durably, then sends its frames, then tells the loop.
func (n *Node) committer() {
	defer close(n.committed)
	for c := range n.commits {
		n.commitDone <- n.commitCut(c)
	}
}

func (n *Node) commitCut(c *cut) error {
	if !c.batch.Empty() {
		if len(c.out) > 0 {
			n.hook(PointSigned)
		}
		if c.received {
			n.hook(PointReceived)
		}
		start := n.cfg.Clock.Now()
		if err := n.cfg.Store.Commit(&c.batch); err != nil {
			return fmt.Errorf("ledger node: group commit: %w", err)
		}
		took := n.cfg.Clock.Since(start)
		n.count(func(s *Stats) {
			s.Commits++
			s.CommitTime += took
			s.CommitMax = max(s.CommitMax, took)
		})
		n.hook(PointCommitted)
		if c.received {
			n.hook(PointReceivedDone)
		}
	}
	for _, f := range c.out {
		// Delivery is best effort; unacknowledged proofs are re-sent by the tick.
		_ = n.cfg.Transport.Send(f.to, f.frame)
	}
	if len(c.out) > 0 {
		n.hook(PointSent)
	}
	return nil
}

// sendNow sends a frame that does not depend on the pending commit, ahead of it.
func (n *Node) sendNow(to channel.Address, frame []byte) {
	_ = n.cfg.Transport.Send(to, frame)
}

// send queues a frame to go out after the pending commit.
func (n *Node) send(to channel.Address, frame []byte) {
	n.out = append(n.out, outFrame{to: to, frame: frame})
}

func (n *Node) complete(done chan error, err error) {
	n.finished = append(n.finished, finish{done: done, err: err})
}

func (n *Node) failAll(err error) {
	for _, f := range n.finished {
		f.done <- err
	}
	for _, f := range append(n.durable, n.committing...) {
		f.done <- err
	}
	for _, cs := range n.channels {
		n.failChannel(cs, err)
	}
	for _, r := range n.routes {
		for _, d := range r.dones {
			d <- err
		}
	}
}

// failChannel answers every caller waiting on cs with err.
func (n *Node) failChannel(cs *chanState, err error) {
	if cs.withdraw != nil {
		cs.withdraw.done <- withdrawResult{err: err}
		cs.withdraw = nil
	}
	if cs.settle != nil {
		cs.settle.done <- settleResult{err: err}
		cs.settle = nil
	}
	for _, w := range cs.waiters {
		w.done <- err
	}
	for _, p := range cs.waiting {
		p.done <- err
	}
	for _, p := range cs.coalescing {
		p.done <- err
	}
	cs.waiters, cs.waiting, cs.coalescing = nil, nil, nil
}

func (n *Node) now() time.Time { return n.cfg.Clock.Now() }

func (n *Node) unixNow() uint64 {
	s := n.now().Unix()
	if s < 0 {
		return 0
	}
	return uint64(s)
}

func (n *Node) handle(e event) {
	switch e := e.(type) {
	case *payEvent:
		n.handlePay(e)
	case *frameEvent:
		n.handleFrame(e)
	case *addChannelEvent:
		e.done <- n.addChannel(e)
	case *routeEvent:
		n.handleRoute(e)
	case *withdrawEvent:
		n.handleWithdraw(e)
	case *settleEvent:
		n.handleSettle(e)
	case *claimsEvent:
		e.reply <- n.claims(e.before)
	case *expiredWithdrawalsEvent:
		e.reply <- n.expiredWithdrawals(e.chainNow)
	case *chainEvent:
		e.done <- n.handleChainEvent(e)
	case *queryEvent:
		cs := n.channels[e.id]
		if e.partner != (channel.Address{}) {
			cs = n.partnerChannel(e.partner)
		}
		e.reply <- n.info(cs)
	case *settledEvent:
		e.done <- n.handleSettled(e.domain)
	default:
		panic(fmt.Sprintf("ledger node: event %T is not handled", e)) // a new event type without its case
	}
}

// putChannel registers cs under its id and its partner.
func (n *Node) putChannel(cs *chanState) {
	id, p := cs.ch.Domain.ChannelID, cs.ch.Partner.Address
	if _, ok := n.channels[id]; !ok {
		n.byPartner[p] = append(n.byPartner[p], id)
	}
	n.channels[id] = cs
}

// dropChannel forgets a channel (settled on chain or replaced by a newer epoch): its callers
// hear err, and its record leaves the disk with the next cut.
func (n *Node) dropChannel(cs *chanState, err error) {
	id, p := cs.ch.Domain.ChannelID, cs.ch.Partner.Address
	n.failChannel(cs, err)
	delete(n.channels, id)
	ids := slices.DeleteFunc(n.byPartner[p], func(x channel.Hash) bool { return x == id })
	if len(ids) == 0 {
		delete(n.byPartner, p)
	} else {
		n.byPartner[p] = ids
	}
	n.batch.DeleteChannels = append(n.batch.DeleteChannels, id)
	n.batch.Meta = append(n.batch.Meta, store.KV{Key: tokenKey(id)})
}

// partnerChannel is the channel partner-addressed calls use: the first one added that is not
// being settled, else the first one (nil if there is none).
func (n *Node) partnerChannel(partner channel.Address) *chanState {
	var first *chanState
	for _, id := range n.byPartner[partner] {
		cs := n.channels[id]
		if !cs.ch.Closing {
			return cs
		}
		if first == nil {
			first = cs
		}
	}
	return first
}

// frameChannel is the channel a partner's frame is about, or nil if it names none of ours with
// that partner: a message can only ever touch the channel it names.
func (n *Node) frameChannel(from channel.Address, frame []byte) *chanState {
	id, ok := channel.FrameChannelID(frame)
	if !ok {
		return nil
	}
	cs := n.channels[id]
	if cs == nil || cs.ch.Partner.Address != from {
		return nil
	}
	return cs
}

func (n *Node) addChannel(e *addChannelEvent) error {
	cs, ok := n.channels[e.domain.ChannelID]
	switch {
	case ok && cs.ch.Partner.Address != e.partner:
		return fmt.Errorf("ledger node: channel %x belongs to %s, not %s", e.domain.ChannelID[:4], cs.ch.Partner.Address, e.partner)
	case ok && cs.ch.Domain.Epoch < e.domain.Epoch:
		// The contract opens a new epoch only after the old one settled.
		n.dropChannel(cs, fmt.Errorf("ledger node: channel %x epoch %d settled", e.domain.ChannelID[:4], cs.ch.Domain.Epoch))
		ok = false
	case ok && cs.ch.Domain != e.domain:
		return fmt.Errorf("ledger node: channel %x is open as epoch %d, not %d", e.domain.ChannelID[:4], cs.ch.Domain.Epoch, e.domain.Epoch)
	case ok && e.opened:
		return nil
	}
	next := channel.New(e.domain, n.self, e.partner)
	if ok {
		c := *cs.ch
		next = &c
	}
	if err := next.SetDeposit(n.self, e.ownDeposit); err != nil {
		return err
	}
	if err := next.SetDeposit(e.partner, e.partDeposit); err != nil {
		return err
	}
	if !ok {
		cs = &chanState{ch: next, synced: true, token: e.token}
		n.putChannel(cs)
		if e.token != (channel.Address{}) {
			n.batch.Meta = append(n.batch.Meta, store.KV{Key: tokenKey(e.domain.ChannelID), Value: append([]byte(nil), e.token[:]...)})
		}
	}
	cs.ch = next
	cs.dirty = true
	return nil
}

const tokenPrefix = "token/"

func tokenKey(id channel.Hash) string { return tokenPrefix + hex.EncodeToString(id[:]) }

// loadTokens restores the token of every channel that is not native coin.
func (n *Node) loadTokens() error {
	kvs, err := n.cfg.Store.MetaPrefix(tokenPrefix)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		if len(kv.Value) != 20 {
			return fmt.Errorf("stored %s: %d bytes, want 20", kv.Key, len(kv.Value))
		}
		id := common.HexToHash(kv.Key[len(tokenPrefix):])
		if cs, ok := n.channels[id]; ok {
			cs.token = channel.Address(kv.Value)
		}
	}
	return nil
}

func (n *Node) info(cs *chanState) Info {
	if cs == nil {
		return Info{}
	}
	c := cs.ch
	return Info{Found: true, Domain: c.Domain, PartnerAddress: c.Partner.Address, Token: cs.token, OwnNonce: c.Own.Proof.Nonce, PartnerNonce: c.Partner.Proof.Nonce,
		Acked: c.Acked, Sent: c.Own.Proof.Transferred, Received: c.Partner.Proof.Transferred,
		OwnBalance: c.OwnBalance(), PartnerBal: c.PartnerBalance(), OwnLocked: c.Own.Proof.Locked,
		PartnerLocked: c.Partner.Proof.Locked, Synced: cs.synced, Own: c.Own.Proof, Partner: c.Partner.Proof,
		OwnLocks: append([]channel.Lock(nil), c.Own.Locks...), PartnerLocks: append([]channel.Lock(nil), c.Partner.Locks...),
		PartnerLockSecrets: n.knownSecrets(c.Partner.Locks)}
}

func (n *Node) knownSecrets(locks []channel.Lock) []channel.Hash {
	var out []channel.Hash
	for _, l := range locks {
		if s, ok := n.secrets[l.SecretHash]; ok {
			out = append(out, s)
		}
	}
	return out
}

func (n *Node) handlePay(e *payEvent) {
	cs := n.partnerChannel(e.partner)
	if cs == nil {
		n.complete(e.done, fmt.Errorf("ledger node: no channel with %s", e.partner))
		return
	}
	if e.id != 0 {
		nonce, found, err := n.lookupPayment(e.partner, e.id)
		if err != nil {
			// Paying again could pay twice: refuse until the record is understood.
			n.complete(e.done, fmt.Errorf("ledger node: payment %d to %s: %w", e.id, e.partner, err))
			return
		}
		if found {
			n.awaitAck(cs, nonce, e.done)
			return
		}
	}
	if !cs.synced {
		if len(cs.waiting) >= maxWaiting {
			n.complete(e.done, fmt.Errorf("ledger node: pay %d to %s: %w", e.amount, e.partner, ErrBusy))
			return
		}
		cs.waiting = append(cs.waiting, e)
		return
	}
	if len(cs.coalescing) == 0 {
		n.coalescing = append(n.coalescing, cs)
	}
	cs.coalescing = append(cs.coalescing, e)
}

// flushPayments signs, for every channel with payments taken since the last flush, one proof
// that carries them all: its transferred total grows by their sum, so the partner verifies and
// acknowledges one signature for the run, and each payment's record names that proof's nonce.
// Payments are taken in order; one that the balance no longer covers fails alone, as it would
// have one proof at a time.
func (n *Node) flushPayments() {
	for _, cs := range n.coalescing {
		pays := cs.coalescing
		cs.coalescing = nil
		n.signPayments(cs, pays)
	}
	n.coalescing = n.coalescing[:0]
}

func (n *Node) signPayments(cs *chanState, pays []*payEvent) {
	next := cs.ch.Own.Proof.Nonce + 1
	balance := cs.ch.OwnBalance()
	var total uint64
	var carried []*payEvent
	for _, e := range pays {
		if e.id != 0 {
			// A retry of a payment carried earlier in this run waits for the same proof.
			if nonce, ok := n.paid[payKey{e.partner, e.id}]; ok {
				n.awaitAck(cs, nonce, e.done)
				continue
			}
		}
		if err := coversPayment(e.amount, balance-total); err != nil {
			n.complete(e.done, fmt.Errorf("ledger node: pay %d to %s: %w", e.amount, e.partner, err))
			continue
		}
		total += e.amount
		carried = append(carried, e)
		if e.id != 0 {
			n.paid[payKey{e.partner, e.id}] = next
		}
	}
	if len(carried) == 0 {
		return
	}
	u, err := cs.ch.Direct(total, n.cfg.Signer)
	if err != nil {
		for _, e := range carried {
			delete(n.paid, payKey{e.partner, e.id})
			n.complete(e.done, fmt.Errorf("ledger node: pay %d to %s: %w", e.amount, e.partner, err))
		}
		return
	}
	n.count(func(s *Stats) { s.Signed++; s.Coalesced += len(carried) })
	cs.dirty = true
	for _, e := range carried {
		if e.id != 0 {
			n.batch.Payments = append(n.batch.Payments, store.Payment{Partner: e.partner, ID: e.id, Nonce: u.Proof.Nonce, Amount: e.amount})
		}
		n.awaitAck(cs, u.Proof.Nonce, e.done)
	}
	n.send(cs.ch.Partner.Address, channel.EncodeUpdate(u))
	cs.lastSend = n.now()
}

// coversPayment refuses what Direct would refuse: a zero amount, or more than the balance left.
func coversPayment(amount, left uint64) error {
	if amount == 0 {
		return fmt.Errorf("direct transfer: amount 0: %w", channel.ErrInvalidAmount)
	}
	if amount > left {
		return fmt.Errorf("direct transfer of %d: %d left of the balance: %w", amount, left, channel.ErrOverspend)
	}
	return nil
}

// lookupPayment finds the nonce that carried payment id to partner. Only a record known to be
// absent (store.ErrNotFound) means the payment was never made; any other failure is an error.
func (n *Node) lookupPayment(partner channel.Address, id uint64) (nonce uint64, found bool, err error) {
	if nonce, ok := n.paid[payKey{partner, id}]; ok {
		return nonce, true, nil
	}
	p, err := n.cfg.Store.LookupPayment(partner, id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	n.paid[payKey{partner, id}] = p.Nonce
	n.rememberDurable(payKey{partner, id})
	return p.Nonce, true, nil
}

// rememberDurable notes that the records of keys are on disk and forgets the oldest durable ids
// beyond cfg.PaidMemory, so the map stays bounded however many payments a long-lived node makes.
func (n *Node) rememberDurable(keys ...payKey) {
	n.paidDurable = append(n.paidDurable, keys...)
	if extra := len(n.paidDurable) - n.cfg.PaidMemory; extra > 0 {
		for _, k := range n.paidDurable[:extra] {
			delete(n.paid, k)
		}
		// Slicing off the front keeps the backing array; append copies only the live part
		// when it grows, so the list stays within about twice the limit.
		n.paidDurable = n.paidDurable[extra:]
	}
}

func (n *Node) awaitAck(cs *chanState, nonce uint64, done chan error) {
	if cs.ch.Acked >= nonce {
		n.complete(done, nil)
		return
	}
	// Keep waiters ordered by nonce (a retried payment waits on an older one) so releaseAcked
	// can answer a prefix.
	i := sort.Search(len(cs.waiters), func(i int) bool { return cs.waiters[i].nonce > nonce })
	cs.waiters = slices.Insert(cs.waiters, i, waiter{nonce: nonce, done: done})
}

// releaseAcked answers every caller whose proof the partner has stored.
func (n *Node) releaseAcked(cs *chanState) {
	k := 0
	for k < len(cs.waiters) && cs.waiters[k].nonce <= cs.ch.Acked {
		n.complete(cs.waiters[k].done, nil)
		k++
	}
	if k > 0 {
		cs.waiters = append(cs.waiters[:0], cs.waiters[k:]...)
	}
}

func (n *Node) handleFrame(e *frameEvent) {
	from, frame := e.from, e.frame
	if len(frame) == 0 {
		n.refuse(from, 0, errors.New("empty frame"))
		return
	}
	cs := n.frameChannel(from, frame)
	var err error
	switch channel.Kind(frame[0]) {
	case channel.KindUpdate:
		err = n.handleUpdate(cs, e)
	case channel.KindAck:
		err = n.handleAck(cs, from, frame)
	case channel.KindSync:
		err = n.handleSync(cs, from, frame)
	case channel.KindWithdrawRequest:
		err = n.handleWithdrawRequest(cs, from, frame)
	case channel.KindWithdrawConfirm:
		err = n.handleWithdrawConfirm(cs, from, frame)
	case channel.KindSettleRequest:
		err = n.handleSettleRequest(cs, from, frame)
	case channel.KindSettleConfirm:
		err = n.handleSettleConfirm(cs, from, frame)
	case KindSecretRequest:
		err = n.handleSecretRequest(from, frame)
	case KindSecretReveal:
		err = n.handleSecretReveal(from, frame)
	case KindLockRoute:
		err = n.handleLockRoute(from, frame)
	default:
		err = fmt.Errorf("unknown message kind %d", frame[0])
	}
	if err != nil {
		n.refuse(from, channel.Kind(frame[0]), err)
	}
}

// refuse counts a refused frame and tells the OnRefused hook.
func (n *Node) refuse(from channel.Address, kind channel.Kind, err error) {
	n.count(func(s *Stats) { s.Refused++ })
	if n.cfg.OnRefused != nil {
		n.cfg.OnRefused(Refusal{From: from, Kind: kind, Err: err})
	}
}

func (n *Node) handleUpdate(cs *chanState, e *frameEvent) error {
	if cs == nil {
		return fmt.Errorf("update from %s: no channel", e.from)
	}
	if e.update == nil {
		u, err := channel.DecodeUpdate(e.frame)
		if err != nil {
			return err
		}
		e.update = &u
		e.signer, e.signerErr = channel.Recover(u.Proof.Digest(), u.Proof.Signature)
	}
	if e.signerErr != nil {
		return e.signerErr
	}
	u := *e.update
	r, err := cs.ch.ReceiveRecovered(u, n.unixNow(), e.signer)
	if errors.Is(err, channel.ErrStale) {
		cs.ackDue = true // an old proof re-sent: confirm what we hold
		return nil
	}
	if err != nil {
		return err
	}
	cs.ackDue = true
	if r.Duplicate {
		return nil
	}
	cs.dirty = true
	n.count(func(s *Stats) { s.Received++ })
	n.onLocksChanged(cs, u, r)
	return nil
}

func (n *Node) handleAck(cs *chanState, from channel.Address, frame []byte) error {
	if cs == nil {
		return fmt.Errorf("ack from %s: no channel", from)
	}
	a, err := channel.DecodeAck(frame)
	if err != nil {
		return err
	}
	if err := cs.ch.HandleAck(a); err != nil {
		if errors.Is(err, channel.ErrPartnerAhead) {
			// Our store lost proofs we signed: stop signing until Sync has recovered them.
			cs.synced = false
			n.send(from, channel.EncodeSync(cs.ch.SyncMessage(true)))
		}
		return err
	}
	n.releaseAcked(cs)
	return nil
}

func (n *Node) handleSync(cs *chanState, from channel.Address, frame []byte) error {
	if cs == nil {
		return fmt.Errorf("sync from %s: no channel", from)
	}
	s, err := channel.DecodeSync(frame)
	if err != nil {
		return err
	}
	res, err := cs.ch.HandleSync(s)
	if err != nil {
		return err
	}
	if res.Recovered {
		cs.dirty = true
		n.count(func(s *Stats) { s.Recovered++ })
	}
	if res.Resend {
		n.send(from, channel.EncodeUpdate(cs.ch.Latest()))
		cs.lastSend = n.now()
	}
	if res.Resend || s.WantReply {
		// A partner that restarted may hold our locks but not their routes (a route frame that
		// came after the update was not on its disk yet); routes it has are ignored.
		n.sendLockRoutes(cs)
	}
	if s.WantReply {
		n.send(from, channel.EncodeSync(cs.ch.SyncMessage(false)))
	}
	n.releaseAcked(cs)
	if !cs.synced {
		cs.synced = true
		waiting := cs.waiting
		cs.waiting = nil
		for _, p := range waiting {
			n.handlePay(p)
		}
		n.resumeLocks()
	}
	return nil
}

// tick re-sends what the partner has not confirmed, asks unsynced partners again and takes back
// expired locks.
func (n *Node) tick() {
	now := n.now()
	for _, cs := range n.channels {
		partner := cs.ch.Partner.Address
		if !cs.synced {
			n.send(partner, channel.EncodeSync(cs.ch.SyncMessage(true)))
			continue
		}
		if w := cs.withdraw; w != nil {
			n.send(partner, channel.EncodeWithdrawRequest(w.req))
		}
		if e := cs.settle; e != nil {
			n.send(partner, channel.EncodeSettleRequest(e.req))
		}
		if cs.ch.Unacked() && now.Sub(cs.lastSend) >= n.cfg.Resend {
			n.send(partner, channel.EncodeUpdate(cs.ch.Latest()))
			n.sendLockRoutes(cs)
			cs.lastSend = now
			n.count(func(s *Stats) { s.Resent++ })
		}
	}
	n.expireLocks()
	n.repeatSecrets()
}
