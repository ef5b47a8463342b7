package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
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
	// MediationFee is what the node keeps of each mediated transfer it forwards: it locks the
	// incoming amount minus the fee towards the next hop. Default: nothing.
	MediationFee FeeSchedule
	// Hooks (tests only) are called at named points of the transfer path; see CrashPoint.
	Hook func(point CrashPoint)
	// OnRefused hears every frame from a peer the node refused (bad signature, unknown channel,
	// stale or malformed message), with the reason; the daemon logs and counts them. It runs on
	// the node's loop and must not block.
	OnRefused func(Refusal)
}

// FeeSchedule is a mediator's fee: Flat plus PPM parts per million of the incoming amount, in
// the channel token's smallest unit.
type FeeSchedule struct {
	Flat, PPM uint64
}

// Of is the fee for forwarding a lock of amount (saturating: a fee above the amount means the
// lock cannot be forwarded).
func (f FeeSchedule) Of(amount uint64) uint64 {
	hi, lo := bits.Mul64(amount, f.PPM)
	if hi >= 1_000_000 { // the quotient would not fit (Div64 needs hi below the divisor)
		return math.MaxUint64
	}
	prop, _ := bits.Div64(hi, lo, 1_000_000)
	fee, carry := bits.Add64(f.Flat, prop, 0)
	if carry != 0 {
		return math.MaxUint64
	}
	return fee
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

// Node is one unit's ledger: the runner around its core (core.go). The loop goroutine owns the
// core: it steps it with the inbox's events and the clock's time, sends what may leave at once,
// delivers answers and hands each cut to the committer goroutine, which writes it with one
// fsync and only then sends its frames. The exported methods talk to the loop through the inbox.
type Node struct {
	cfg   Config
	self  channel.Address
	inbox chan event
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once

	core *core // owned by the loop goroutine
	// inFlight is the cut the committer is writing (nil when it is idle).
	inFlight   *cut
	commits    chan *cut
	commitDone chan error
	committed  chan struct{}
	stats      *statsBox
}

// Stats counts what the node did (for tests and the bench).
type Stats struct {
	Commits, Signed, Received, Refused, Resent, Recovered int
	// Coalesced counts the payments the Signed direct proofs carried (several per proof when
	// they arrive together).
	Coalesced int
	// RecoveredWithdrawals counts the withdrawal agreements taken back from a partner's Sync.
	RecoveredWithdrawals int
	// Refunds counts the refund locks the node signed for mediated transfers that failed.
	Refunds int
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
	// OwnWithdrawn and PartnerWithdrawn are the agreed (reserved) withdrawal totals.
	OwnWithdrawn, PartnerWithdrawn uint64
	// Withdrawal is the own pending withdrawal both sides signed, ready for the chain (nil if none).
	Withdrawal *WithdrawProof
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
		done: make(chan struct{}), stats: &statsBox{},
		commits: make(chan *cut, 1), commitDone: make(chan error, 1), committed: make(chan struct{})}
	c, err := newCore(coreConfig{Signer: cfg.Signer, Store: cfg.Store, Resend: cfg.Resend, LockTimeout: cfg.LockTimeout,
		RevealMargin: cfg.RevealMargin, PaidMemory: cfg.PaidMemory, MediationFee: cfg.MediationFee}, n.self, n.stats)
	if err != nil {
		return nil, err
	}
	n.core = c
	cfg.Transport.SetHandler(n.deliver)
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
func (n *Node) Stats() Stats { return n.stats.get() }

func (c *core) count(f func(*Stats)) { c.stats.count(f) }

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

func (c *core) handleSettled(d channel.Domain) error {
	cs, ok := c.channels[d.ChannelID]
	if !ok || cs.ch.Domain.Epoch > d.Epoch {
		return nil
	}
	partner := cs.ch.Partner.Address
	c.dropChannel(cs, fmt.Errorf("ledger node: channel %x epoch %d settled on chain", d.ChannelID[:4], cs.ch.Domain.Epoch))
	return c.pruneRoutes(partner)
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
	for {
		events = events[:0]
		select {
		case <-n.quit:
			n.finalCut()
			return
		case <-tick.C():
			events = append(events, &tickEvent{})
		case e := <-n.inbox:
			events = append(events, e)
		case err := <-n.commitDone:
			if err != nil {
				n.failAll(err)
				return
			}
			n.persisted()
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
		n.prepare(events)
		now := n.cfg.Clock.Now()
		for _, e := range events {
			n.core.step(now, e)
		}
		n.apply(n.core.ready(n.inFlight == nil))
	}
}

// prepare does, before the core sees a batch of events, what needs no channel state but costs
// or needs the outside world: it recovers the signers of updates on every core and draws the
// secrets of new mediated payments.
func (n *Node) prepare(events []event) {
	n.recoverSigners(events)
	for _, e := range events {
		if r, ok := e.(*routeEvent); ok && r.secretErr == nil && r.secret == (channel.Hash{}) {
			_, r.secretErr = io.ReadFull(n.cfg.Rand, r.secret[:])
		}
	}
}

// apply does what the core asked: frames that may leave now leave, answers and refusals go
// out, and a cut goes to the idle committer (which sends its frames only once it is durable).
func (n *Node) apply(r ready) {
	for _, f := range r.send {
		_ = n.cfg.Transport.Send(f.to, f.frame) // best effort: what matters is re-sent
	}
	for _, a := range r.answers {
		a.deliver()
	}
	if n.cfg.OnRefused != nil {
		for _, ref := range r.refusals {
			n.cfg.OnRefused(ref)
		}
	}
	if r.cut != nil {
		n.inFlight = r.cut
		n.commits <- r.cut // never blocks: the committer is idle and the channel has room for one
	}
}

// persisted tells the core the cut in flight is durable and answers the callers that waited
// for it.
func (n *Node) persisted() {
	n.core.persisted()
	for _, a := range n.inFlight.answers {
		a.deliver()
	}
	n.inFlight = nil
}

// failAll answers every caller with the commit's error: nothing more can be made durable.
func (n *Node) failAll(err error) {
	if n.inFlight != nil {
		for _, a := range n.inFlight.answers {
			replyTo(a.to, err).deliver()
		}
		n.inFlight = nil
	}
	for _, a := range n.core.fail(err) {
		a.deliver()
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
func (n *Node) finalCut() {
	if n.inFlight != nil {
		if <-n.commitDone != nil {
			return
		}
		n.persisted()
	}
	n.apply(n.core.ready(true))
	if n.inFlight != nil && <-n.commitDone == nil {
		n.persisted()
	}
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
		n.stats.count(func(s *Stats) {
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

// sendNow queues a frame that does not depend on the pending commit: it leaves ahead of it.
func (c *core) sendNow(to channel.Address, frame []byte) {
	c.outNow = append(c.outNow, outFrame{to: to, frame: frame})
}

// send queues a frame to go out after the next cut is durable.
func (c *core) send(to channel.Address, frame []byte) {
	c.out = append(c.out, outFrame{to: to, frame: frame})
}

// answer queues a reply to a caller, delivered at once.
func (c *core) answer(a Answer) { c.answers = append(c.answers, a) }

func (c *core) complete(done chan error, err error) { c.answer(replyTo(done, err)) }

// failAll answers everyone still waiting with err.
func (c *core) failAll(err error) {
	for _, a := range c.durable {
		c.answer(replyTo(a.to, err))
	}
	c.durable = nil
	for _, cs := range c.channels {
		c.failChannel(cs, err)
	}
	for _, r := range c.routes {
		for _, d := range r.dones {
			c.answer(replyTo(d, err))
		}
	}
}

// failChannel answers every caller waiting on cs with err.
func (c *core) failChannel(cs *chanState, err error) {
	if cs.withdraw != nil {
		c.answer(replyTo(cs.withdraw.done, withdrawResult{err: err}))
		cs.withdraw = nil
	}
	if cs.settle != nil {
		c.answer(replyTo(cs.settle.done, settleResult{err: err}))
		cs.settle = nil
	}
	for _, w := range cs.waiters {
		c.answer(replyTo(w.done, err))
	}
	for _, p := range cs.waiting {
		c.answer(replyTo(p.done, err))
	}
	for _, p := range cs.coalescing {
		c.answer(replyTo(p.done, err))
	}
	cs.waiters, cs.waiting, cs.coalescing = nil, nil, nil
}

// now is the time the runner stepped the current event with.
func (c *core) now() time.Time { return c.stepTime }

func (c *core) unixNow() uint64 {
	s := c.now().Unix()
	if s < 0 {
		return 0
	}
	return uint64(s)
}

func (c *core) handle(e event) {
	switch e := e.(type) {
	case *payEvent:
		c.handlePay(e)
	case *frameEvent:
		c.handleFrame(e)
	case *addChannelEvent:
		c.answer(replyTo(e.done, c.addChannel(e)))
	case *routeEvent:
		c.handleRoute(e)
	case *withdrawEvent:
		c.handleWithdraw(e)
	case *settleEvent:
		c.handleSettle(e)
	case *claimsEvent:
		c.answer(replyTo(e.reply, c.claims(e.before)))
	case *expiredWithdrawalsEvent:
		c.answer(replyTo(e.reply, c.expiredWithdrawals(e.chainNow)))
	case *chainEvent:
		c.answer(replyTo(e.done, c.handleChainEvent(e)))
	case *queryEvent:
		cs := c.channels[e.id]
		if e.partner != (channel.Address{}) {
			cs = c.partnerChannel(e.partner)
		}
		c.answer(replyTo(e.reply, c.info(cs)))
	case *settledEvent:
		c.answer(replyTo(e.done, c.handleSettled(e.domain)))
	case *tickEvent:
		c.tick()
	default:
		panic(fmt.Sprintf("ledger node: event %T is not handled", e)) // a new event type without its case
	}
}

// putChannel registers cs under its id and its partner.
func (c *core) putChannel(cs *chanState) {
	id, p := cs.ch.Domain.ChannelID, cs.ch.Partner.Address
	if _, ok := c.channels[id]; !ok {
		c.byPartner[p] = append(c.byPartner[p], id)
	}
	c.channels[id] = cs
}

// dropChannel forgets a channel (settled on chain or replaced by a newer epoch): its callers
// hear err, and its record leaves the disk with the next cut.
func (c *core) dropChannel(cs *chanState, err error) {
	id, p := cs.ch.Domain.ChannelID, cs.ch.Partner.Address
	c.failChannel(cs, err)
	delete(c.channels, id)
	ids := slices.DeleteFunc(c.byPartner[p], func(x channel.Hash) bool { return x == id })
	if len(ids) == 0 {
		delete(c.byPartner, p)
	} else {
		c.byPartner[p] = ids
	}
	c.batch.DeleteChannels = append(c.batch.DeleteChannels, id)
	c.batch.Meta = append(c.batch.Meta, store.KV{Key: tokenKey(id)})
}

// partnerChannel is the channel partner-addressed calls use: the first one added that is not
// being settled, else the first one (nil if there is none).
func (c *core) partnerChannel(partner channel.Address) *chanState {
	var first *chanState
	for _, id := range c.byPartner[partner] {
		cs := c.channels[id]
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
func (c *core) frameChannel(from channel.Address, frame []byte) *chanState {
	id, ok := channel.FrameChannelID(frame)
	if !ok {
		return nil
	}
	cs := c.channels[id]
	if cs == nil || cs.ch.Partner.Address != from {
		return nil
	}
	return cs
}

func (c *core) addChannel(e *addChannelEvent) error {
	cs, ok := c.channels[e.domain.ChannelID]
	switch {
	case ok && cs.ch.Partner.Address != e.partner:
		return fmt.Errorf("ledger node: channel %x belongs to %s, not %s", e.domain.ChannelID[:4], cs.ch.Partner.Address, e.partner)
	case ok && cs.ch.Domain.Epoch < e.domain.Epoch:
		// The contract opens a new epoch only after the old one settled.
		c.dropChannel(cs, fmt.Errorf("ledger node: channel %x epoch %d settled", e.domain.ChannelID[:4], cs.ch.Domain.Epoch))
		ok = false
	case ok && cs.ch.Domain != e.domain:
		return fmt.Errorf("ledger node: channel %x is open as epoch %d, not %d", e.domain.ChannelID[:4], cs.ch.Domain.Epoch, e.domain.Epoch)
	case ok && e.opened:
		return nil
	}
	next := channel.New(e.domain, c.self, e.partner)
	if ok {
		copied := *cs.ch
		next = &copied
	}
	if err := next.SetDeposit(c.self, e.ownDeposit); err != nil {
		return err
	}
	if err := next.SetDeposit(e.partner, e.partDeposit); err != nil {
		return err
	}
	if !ok {
		cs = &chanState{ch: next, synced: true, token: e.token}
		c.putChannel(cs)
		if e.token != (channel.Address{}) {
			c.batch.Meta = append(c.batch.Meta, store.KV{Key: tokenKey(e.domain.ChannelID), Value: append([]byte(nil), e.token[:]...)})
		}
	}
	cs.ch = next
	cs.dirty = true
	return nil
}

const tokenPrefix = "token/"

func tokenKey(id channel.Hash) string { return tokenPrefix + hex.EncodeToString(id[:]) }

// loadTokens restores the token of every channel that is not native coin.
func (c *core) loadTokens() error {
	kvs, err := c.cfg.Store.MetaPrefix(tokenPrefix)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		if len(kv.Value) != 20 {
			return fmt.Errorf("stored %s: %d bytes, want 20", kv.Key, len(kv.Value))
		}
		id := common.HexToHash(kv.Key[len(tokenPrefix):])
		if cs, ok := c.channels[id]; ok {
			cs.token = channel.Address(kv.Value)
		}
	}
	return nil
}

func (c *core) info(cs *chanState) Info {
	if cs == nil {
		return Info{}
	}
	ch := cs.ch
	return Info{Found: true, Domain: ch.Domain, PartnerAddress: ch.Partner.Address, Token: cs.token, OwnNonce: ch.Own.Proof.Nonce, PartnerNonce: ch.Partner.Proof.Nonce,
		Acked: ch.Acked, Sent: ch.Own.Proof.Transferred, Received: ch.Partner.Proof.Transferred,
		OwnBalance: ch.OwnBalance(), PartnerBal: ch.PartnerBalance(), OwnLocked: ch.Own.Proof.Locked,
		PartnerLocked: ch.Partner.Proof.Locked, Synced: cs.synced, Own: ch.Own.Proof, Partner: ch.Partner.Proof,
		OwnLocks: append([]channel.Lock(nil), ch.Own.Locks...), PartnerLocks: append([]channel.Lock(nil), ch.Partner.Locks...),
		PartnerLockSecrets: c.knownSecrets(ch.Partner.Locks), OwnWithdrawn: ch.Own.Withdrawn, PartnerWithdrawn: ch.Partner.Withdrawn,
		Withdrawal: pendingWithdrawal(ch)}
}

// pendingWithdrawal is the own withdrawal agreed by both sides and not yet seen on chain.
func pendingWithdrawal(ch *channel.Channel) *WithdrawProof {
	o := &ch.Own
	if o.Withdrawn == o.ChainWithdrawn || o.WithdrawCoSig == ([65]byte{}) {
		return nil
	}
	return &WithdrawProof{Domain: ch.Domain, Who: o.Address, Total: o.Withdrawn, Expiry: o.WithdrawExpiry, WhoSig: o.WithdrawSig, PartnerSig: o.WithdrawCoSig}
}

func (c *core) knownSecrets(locks []channel.Lock) []channel.Hash {
	var out []channel.Hash
	for _, l := range locks {
		if s, ok := c.secrets[l.SecretHash]; ok {
			out = append(out, s)
		}
	}
	return out
}

func (c *core) handlePay(e *payEvent) {
	cs := c.partnerChannel(e.partner)
	if cs == nil {
		c.complete(e.done, fmt.Errorf("ledger node: no channel with %s", e.partner))
		return
	}
	if e.id != 0 {
		nonce, found, err := c.lookupPayment(e.partner, e.id)
		if err != nil {
			// Paying again could pay twice: refuse until the record is understood.
			c.complete(e.done, fmt.Errorf("ledger node: payment %d to %s: %w", e.id, e.partner, err))
			return
		}
		if found {
			c.awaitAck(cs, nonce, e.done)
			return
		}
	}
	if !cs.synced {
		if len(cs.waiting) >= maxWaiting {
			c.complete(e.done, fmt.Errorf("ledger node: pay %d to %s: %w", e.amount, e.partner, ErrBusy))
			return
		}
		cs.waiting = append(cs.waiting, e)
		return
	}
	if len(cs.coalescing) == 0 {
		c.coalescing = append(c.coalescing, cs)
	}
	cs.coalescing = append(cs.coalescing, e)
}

// flushPayments signs, for every channel with payments taken since the last flush, one proof
// that carries them all: its transferred total grows by their sum, so the partner verifies and
// acknowledges one signature for the run, and each payment's record names that proof's nonce.
// Payments are taken in order; one that the balance no longer covers fails alone, as it would
// have one proof at a time.
func (c *core) flushPayments() {
	for _, cs := range c.coalescing {
		pays := cs.coalescing
		cs.coalescing = nil
		c.signPayments(cs, pays)
	}
	c.coalescing = c.coalescing[:0]
}

func (c *core) signPayments(cs *chanState, pays []*payEvent) {
	next := cs.ch.Own.Proof.Nonce + 1
	balance := cs.ch.OwnBalance()
	var total uint64
	var carried []*payEvent
	for _, e := range pays {
		if e.id != 0 {
			// A retry of a payment carried earlier in this run waits for the same proof.
			if nonce, ok := c.paid[payKey{e.partner, e.id}]; ok {
				c.awaitAck(cs, nonce, e.done)
				continue
			}
		}
		if err := coversPayment(e.amount, balance-total); err != nil {
			c.complete(e.done, fmt.Errorf("ledger node: pay %d to %s: %w", e.amount, e.partner, err))
			continue
		}
		total += e.amount
		carried = append(carried, e)
		if e.id != 0 {
			c.paid[payKey{e.partner, e.id}] = next
		}
	}
	if len(carried) == 0 {
		return
	}
	u, err := cs.ch.Direct(total, c.cfg.Signer)
	if err != nil {
		for _, e := range carried {
			delete(c.paid, payKey{e.partner, e.id})
			c.complete(e.done, fmt.Errorf("ledger node: pay %d to %s: %w", e.amount, e.partner, err))
		}
		return
	}
	c.count(func(s *Stats) { s.Signed++; s.Coalesced += len(carried) })
	cs.dirty = true
	for _, e := range carried {
		if e.id != 0 {
			c.batch.Payments = append(c.batch.Payments, store.Payment{Partner: e.partner, ID: e.id, Nonce: u.Proof.Nonce, Amount: e.amount})
		}
		c.awaitAck(cs, u.Proof.Nonce, e.done)
	}
	c.send(cs.ch.Partner.Address, channel.EncodeUpdate(u))
	cs.lastSend = c.now()
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
func (c *core) lookupPayment(partner channel.Address, id uint64) (nonce uint64, found bool, err error) {
	if nonce, ok := c.paid[payKey{partner, id}]; ok {
		return nonce, true, nil
	}
	p, err := c.cfg.Store.LookupPayment(partner, id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	c.paid[payKey{partner, id}] = p.Nonce
	c.rememberDurable(payKey{partner, id})
	return p.Nonce, true, nil
}

// rememberDurable notes that the records of keys are on disk and forgets the oldest durable ids
// beyond cfg.PaidMemory, so the map stays bounded however many payments a long-lived node makes.
func (c *core) rememberDurable(keys ...payKey) {
	c.paidDurable = append(c.paidDurable, keys...)
	if extra := len(c.paidDurable) - c.cfg.PaidMemory; extra > 0 {
		for _, k := range c.paidDurable[:extra] {
			delete(c.paid, k)
		}
		// Slicing off the front keeps the backing array; append copies only the live part
		// when it grows, so the list stays within about twice the limit.
		c.paidDurable = c.paidDurable[extra:]
	}
}

func (c *core) awaitAck(cs *chanState, nonce uint64, done chan error) {
	if cs.ch.Acked >= nonce {
		c.complete(done, nil)
		return
	}
	// Keep waiters ordered by nonce (a retried payment waits on an older one) so releaseAcked
	// can answer a prefix.
	i := sort.Search(len(cs.waiters), func(i int) bool { return cs.waiters[i].nonce > nonce })
	cs.waiters = slices.Insert(cs.waiters, i, waiter{nonce: nonce, done: done})
}

// releaseAcked answers every caller whose proof the partner has stored.
func (c *core) releaseAcked(cs *chanState) {
	k := 0
	for k < len(cs.waiters) && cs.waiters[k].nonce <= cs.ch.Acked {
		c.complete(cs.waiters[k].done, nil)
		k++
	}
	if k > 0 {
		cs.waiters = append(cs.waiters[:0], cs.waiters[k:]...)
	}
}

func (c *core) handleFrame(e *frameEvent) {
	from, frame := e.from, e.frame
	if len(frame) == 0 {
		c.refuse(from, 0, errors.New("empty frame"))
		return
	}
	cs := c.frameChannel(from, frame)
	var err error
	switch channel.Kind(frame[0]) {
	case channel.KindUpdate:
		err = c.handleUpdate(cs, e)
	case channel.KindAck:
		err = c.handleAck(cs, from, frame)
	case channel.KindSync:
		err = c.handleSync(cs, from, frame)
	case channel.KindWithdrawRequest:
		err = c.handleWithdrawRequest(cs, from, frame)
	case channel.KindWithdrawConfirm:
		err = c.handleWithdrawConfirm(cs, from, frame)
	case channel.KindSettleRequest:
		err = c.handleSettleRequest(cs, from, frame)
	case channel.KindSettleConfirm:
		err = c.handleSettleConfirm(cs, from, frame)
	case KindSecretRequest:
		err = c.handleSecretRequest(from, frame)
	case KindSecretReveal:
		err = c.handleSecretReveal(from, frame)
	case KindLockRoute:
		err = c.handleLockRoute(from, frame)
	default:
		err = fmt.Errorf("unknown message kind %d", frame[0])
	}
	if err != nil {
		c.refuse(from, channel.Kind(frame[0]), err)
	}
}

// refuse counts a refused frame and tells the OnRefused hook.
func (c *core) refuse(from channel.Address, kind channel.Kind, err error) {
	c.count(func(s *Stats) { s.Refused++ })
	c.refusals = append(c.refusals, Refusal{From: from, Kind: kind, Err: err})
}

func (c *core) handleUpdate(cs *chanState, e *frameEvent) error {
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
	r, err := cs.ch.ReceiveRecovered(u, c.unixNow(), e.signer)
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
	c.count(func(s *Stats) { s.Received++ })
	c.onLocksChanged(cs, u, r)
	return nil
}

func (c *core) handleAck(cs *chanState, from channel.Address, frame []byte) error {
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
			c.send(from, channel.EncodeSync(cs.ch.SyncMessage(true)))
		}
		return err
	}
	c.releaseAcked(cs)
	return nil
}

func (c *core) handleSync(cs *chanState, from channel.Address, frame []byte) error {
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
	if res.Recovered || res.RecoveredWithdrawals > 0 {
		cs.dirty = true
		c.count(func(s *Stats) { s.Recovered++; s.RecoveredWithdrawals += res.RecoveredWithdrawals })
	}
	if res.Resend {
		c.send(from, channel.EncodeUpdate(cs.ch.Latest()))
		cs.lastSend = c.now()
	}
	if res.Resend || s.WantReply {
		// A partner that restarted may hold our locks but not their routes (a route frame that
		// came after the update was not on its disk yet); routes it has are ignored.
		c.sendLockRoutes(cs)
	}
	if s.WantReply {
		c.send(from, channel.EncodeSync(cs.ch.SyncMessage(false)))
	}
	c.releaseAcked(cs)
	if !cs.synced {
		cs.synced = true
		waiting := cs.waiting
		cs.waiting = nil
		for _, p := range waiting {
			c.handlePay(p)
		}
		c.resumeLocks()
	}
	return nil
}

// tick re-sends what the partner has not confirmed, asks unsynced partners again and takes back
// expired locks.
func (c *core) tick() {
	now := c.now()
	for _, cs := range c.channels {
		partner := cs.ch.Partner.Address
		if !cs.synced {
			c.send(partner, channel.EncodeSync(cs.ch.SyncMessage(true)))
			continue
		}
		if w := cs.withdraw; w != nil {
			c.send(partner, channel.EncodeWithdrawRequest(w.req))
		}
		if e := cs.settle; e != nil {
			c.send(partner, channel.EncodeSettleRequest(e.req))
		}
		if cs.ch.Unacked() && now.Sub(cs.lastSend) >= c.cfg.Resend {
			c.send(partner, channel.EncodeUpdate(cs.ch.Latest()))
			c.sendLockRoutes(cs)
			cs.lastSend = now
			c.count(func(s *Stats) { s.Resent++ })
		}
	}
	c.expireLocks()
	c.repeatSecrets()
}
