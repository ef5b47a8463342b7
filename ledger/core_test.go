package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/ledger/channel"
	"github.com/fractals-energy/fractals/ledger/store"
	"github.com/fractals-energy/fractals/ledger/transport"
)

// memStore is the core's read interface over records kept in memory: what the scripted core
// tests "persist" (apply) is what a core restarted from it reads back. No disk, no fsync.
type memStore struct {
	channels map[channel.Hash][]byte
	payments map[payKey]store.Payment
	meta     map[string][]byte
}

func newMemStore() *memStore {
	return &memStore{channels: map[channel.Hash][]byte{}, payments: map[payKey]store.Payment{}, meta: map[string][]byte{}}
}

func (m *memStore) apply(b *store.Batch) {
	for _, id := range b.DeleteChannels {
		delete(m.channels, id)
	}
	for _, r := range b.Channels {
		m.channels[r.ID] = append([]byte(nil), r.State...)
	}
	for _, p := range b.Payments {
		m.payments[payKey{p.Partner, p.ID}] = p
	}
	for _, kv := range b.Meta {
		if kv.Value == nil {
			delete(m.meta, kv.Key)
		} else {
			m.meta[kv.Key] = append([]byte(nil), kv.Value...)
		}
	}
}

func (m *memStore) Channels() ([]*channel.Channel, error) {
	var out []*channel.Channel
	for _, b := range m.channels {
		c := &channel.Channel{}
		if err := c.UnmarshalBinary(b); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (m *memStore) LookupPayment(partner channel.Address, id uint64) (store.Payment, error) {
	p, ok := m.payments[payKey{partner, id}]
	if !ok {
		return store.Payment{}, store.ErrNotFound
	}
	return p, nil
}

func (m *memStore) Meta(key string) ([]byte, error) { return m.meta[key], nil }

func (m *memStore) MetaPrefix(prefix string) ([]store.KV, error) {
	var out []store.KV
	for k, v := range m.meta {
		if strings.HasPrefix(k, prefix) {
			out = append(out, store.KV{Key: k, Value: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// scriptedCore is one core driven by hand: the test is its runner.
type scriptedCore struct {
	t    *testing.T
	c    *core
	st   *memStore
	addr channel.Address
}

func newScriptedCore(t *testing.T, seed uint64, st *memStore) *scriptedCore {
	t.Helper()
	key := DeterministicKey(seed)
	signer := channel.NewKeySigner(key)
	c, err := newCore(coreConfig{Signer: signer, Store: st, Resend: time.Second, LockTimeout: 10 * time.Minute,
		RevealMargin: time.Minute, PaidMemory: 64}, signer.Address(), &statsBox{})
	if err != nil {
		t.Fatal(err)
	}
	return &scriptedCore{t: t, c: c, st: st, addr: signer.Address()}
}

// coreEpoch is the scripted tests' clock: every step gives the core an explicit time.
var coreEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// readyChecked takes the core's ready and checks what must hold of every one: no signed message
// (an update, an acknowledgement, a withdrawal or settle signature) may leave before its cut is
// durable, so none is among the frames that leave now.
func (s *scriptedCore) readyChecked(cutAllowed bool) ready {
	s.t.Helper()
	r := s.c.ready(cutAllowed)
	for _, f := range r.send {
		switch channel.Kind(f.frame[0]) {
		case channel.KindUpdate, channel.KindAck, channel.KindWithdrawRequest, channel.KindWithdrawConfirm,
			channel.KindSettleRequest, channel.KindSettleConfirm:
			s.t.Fatalf("%s: a signed frame (kind %d) to %s among the frames that leave before the disk", s.addr, f.frame[0], f.to)
		}
	}
	return r
}

// persist is the runner's group commit of a cut: the records reach the memory store, the core
// hears it is durable, and only then are the cut's frames and answers released.
func (s *scriptedCore) persist(ct *cut) ([]outFrame, []reply[error]) {
	s.st.apply(&ct.batch)
	s.c.persisted()
	return ct.out, ct.answers
}

func errAnswers(t *testing.T, as []Answer) map[chan error]error {
	t.Helper()
	out := map[chan error]error{}
	for _, a := range as {
		if r, ok := a.(reply[error]); ok {
			out[r.to] = r.value
		}
	}
	return out
}

func framesOfKind(fs []outFrame, k channel.Kind) []outFrame {
	var out []outFrame
	for _, f := range fs {
		if channel.Kind(f.frame[0]) == k {
			out = append(out, f)
		}
	}
	return out
}

func storedOwnNonce(t *testing.T, b store.Batch, id channel.Hash) uint64 {
	t.Helper()
	for _, r := range b.Channels {
		if r.ID == id {
			c := &channel.Channel{}
			if err := c.UnmarshalBinary(r.State); err != nil {
				t.Fatal(err)
			}
			return c.Own.Proof.Nonce
		}
	}
	t.Fatalf("cut holds no record of channel %x", id[:4])
	return 0
}

// TestCoreScriptedDirectPayments drives two pure cores by hand, with no disk, no network and no
// clock: each step names its time, and the test plays the runner, deciding when a cut is
// "durable" and when frames reach the other core. It checks the core's outputs at every step,
// above all that the signed proofs (and the acknowledgements) are only ever in a cut, together
// with the record that holds them, never among the frames that may leave before the disk, and
// that no new cut comes while one is unpersisted.
func TestCoreScriptedDirectPayments(t *testing.T) {
	a := newScriptedCore(t, 1, newMemStore())
	b := newScriptedCore(t, 2, newMemStore())
	d := channel.Domain{ChainID: 1337, Contract: channel.Address{0xbe}, ChannelID: crypto.Keccak256Hash(a.addr[:], b.addr[:]), Epoch: 1}
	now := coreEpoch

	// Opening: the answer is immediate, the record is in the first cut, nothing is sent.
	for _, s := range []*scriptedCore{a, b} {
		partner := b.addr
		if s == b {
			partner = a.addr
		}
		done := make(chan error, 1)
		s.c.step(now, &addChannelEvent{domain: d, partner: partner, ownDeposit: 1000, partDeposit: 1000, done: done})
		r := s.readyChecked(true)
		if got := errAnswers(t, r.answers); len(got) != 1 || got[done] != nil {
			t.Fatalf("open: answers %v, want one nil", got)
		}
		if r.cut == nil || len(r.cut.batch.Channels) != 1 || len(r.cut.out) != 0 {
			t.Fatalf("open: cut %+v, want the channel record and no frame", r.cut)
		}
		s.persist(r.cut)
	}

	// Two payments taken together: held until a cut may be taken, then one proof carries both.
	pay1, pay2 := make(chan error, 1), make(chan error, 1)
	a.c.step(now, &payEvent{partner: b.addr, amount: 10, id: 1, done: pay1})
	a.c.step(now, &payEvent{partner: b.addr, amount: 5, id: 2, done: pay2})
	if r := a.readyChecked(false); r.cut != nil || len(r.send) != 0 || len(r.answers) != 0 {
		t.Fatalf("payments with the committer busy: %+v, want nothing yet", r)
	}
	r := a.readyChecked(true)
	if r.cut == nil {
		t.Fatal("payments: no cut")
	}
	updates := framesOfKind(r.cut.out, channel.KindUpdate)
	if len(updates) != 1 || updates[0].to != b.addr {
		t.Fatalf("payments: %d updates in the cut, want 1 to the payee", len(updates))
	}
	u, err := channel.DecodeUpdate(updates[0].frame)
	if err != nil {
		t.Fatal(err)
	}
	if u.Proof.Nonce != 1 || u.Proof.Transferred != 15 {
		t.Fatalf("coalesced proof nonce %d transferred %d, want 1 and 15", u.Proof.Nonce, u.Proof.Transferred)
	}
	if got := storedOwnNonce(t, r.cut.batch, d.ChannelID); got != u.Proof.Nonce {
		t.Fatalf("the cut stores own nonce %d but sends nonce %d", got, u.Proof.Nonce)
	}
	if len(r.cut.batch.Payments) != 2 {
		t.Fatalf("cut holds %d payment records, want 2", len(r.cut.batch.Payments))
	}
	firstCut := r.cut

	// A third payment while the first cut is unpersisted: nothing new may be cut or sent.
	pay3 := make(chan error, 1)
	a.c.step(now, &payEvent{partner: b.addr, amount: 7, id: 3, done: pay3})
	if r := a.readyChecked(true); r.cut != nil || len(r.send) != 0 {
		t.Fatalf("while a cut is unpersisted: cut %v, %d frames now; want neither", r.cut, len(r.send))
	}
	out, _ := a.persist(firstCut)

	// The payee takes the proof: its acknowledgement waits for its own cut with the record.
	b.c.step(now, &frameEvent{from: a.addr, frame: out[0].frame})
	rb := b.readyChecked(true)
	if rb.cut == nil || !rb.cut.received {
		t.Fatalf("payee: cut %+v, want one marked received", rb.cut)
	}
	acks := framesOfKind(rb.cut.out, channel.KindAck)
	if len(acks) != 1 || len(rb.cut.batch.Channels) != 1 {
		t.Fatalf("payee: %d acks and %d records in the cut, want 1 and 1", len(acks), len(rb.cut.batch.Channels))
	}
	ackOut, _ := b.persist(rb.cut)

	// The payer hears the ack: both payments are answered at once; the third is signed next.
	a.c.step(now, &frameEvent{from: b.addr, frame: ackOut[0].frame})
	ra := a.readyChecked(true)
	got := errAnswers(t, ra.answers)
	if len(got) != 2 || got[pay1] != nil || got[pay2] != nil {
		t.Fatalf("after the ack: answers %v, want pay1 and pay2 nil", got)
	}
	if ra.cut == nil || len(framesOfKind(ra.cut.out, channel.KindUpdate)) != 1 {
		t.Fatal("the third payment is not in the next cut")
	}
	third := ra.cut

	// A retry of an acknowledged id is answered without a new proof.
	retry := make(chan error, 1)
	a.c.step(now, &payEvent{partner: b.addr, amount: 10, id: 1, done: retry})
	if r := a.readyChecked(false); len(errAnswers(t, r.answers)) != 1 || errAnswers(t, r.answers)[retry] != nil {
		t.Fatalf("retry of id 1: answers %v, want it answered nil", r.answers)
	}

	// Time passes without an ack for the third proof: the tick re-sends it, after the disk.
	a.persist(third)
	a.c.step(now.Add(2*time.Second), &tickEvent{})
	rt := a.readyChecked(true)
	if rt.cut == nil || len(framesOfKind(rt.cut.out, channel.KindUpdate)) != 1 {
		t.Fatalf("tick: %+v, want the unacknowledged proof re-sent in a cut", rt.cut)
	}
	a.persist(rt.cut)

	// A malformed frame is refused with the sender, and nothing else happens.
	a.c.step(now, &frameEvent{from: b.addr, frame: []byte{byte(channel.KindAck), 1, 2}})
	rr := a.readyChecked(true)
	if len(rr.refusals) != 1 || rr.refusals[0].From != b.addr || rr.refusals[0].Kind != channel.KindAck || rr.cut != nil {
		t.Fatalf("malformed ack: refusals %+v cut %v, want one refusal and no cut", rr.refusals, rr.cut)
	}

	// A core restarted from what was persisted resumes unsynced and asks for a Sync first.
	a2 := newScriptedCore(t, 1, a.st)
	r2 := a2.readyChecked(true)
	if r2.cut == nil || len(framesOfKind(r2.cut.out, channel.KindSync)) != 1 {
		t.Fatalf("restart: %+v, want a Sync in the first cut", r2.cut)
	}
	if a2.c.channels[d.ChannelID].synced {
		t.Fatal("restart: channel synced before the partner answered")
	}
}

// TestCoreScriptedFailAnswersEveryone checks fail: after the disk refused a cut, every caller
// still waiting hears the error (nothing leaks a goroutine waiting forever).
func TestCoreScriptedFailAnswersEveryone(t *testing.T) {
	a := newScriptedCore(t, 1, newMemStore())
	peer := DeterministicKey(2)
	partner := crypto.PubkeyToAddress(peer.PublicKey)
	d := channel.Domain{ChainID: 1337, Contract: channel.Address{0xbe}, ChannelID: channel.Hash{7}, Epoch: 1}
	open := make(chan error, 1)
	a.c.step(coreEpoch, &addChannelEvent{domain: d, partner: partner, ownDeposit: 100, done: open})
	a.persist(a.readyChecked(true).cut)
	pay := make(chan error, 1)
	a.c.step(coreEpoch, &payEvent{partner: partner, amount: 1, done: pay})
	if a.readyChecked(true).cut == nil {
		t.Fatal("no cut for the payment")
	}
	diskFull := errors.New("disk full")
	got := errAnswers(t, a.c.fail(diskFull))
	if !errors.Is(got[pay], diskFull) {
		t.Fatalf("fail: payment answered %v, want %v", got[pay], diskFull)
	}
}

// TestCoreChannelOrderIsStable: what the core emits over all channels follows their ids, not the
// map's order, so two runs of one script give the same cut.
func TestCoreChannelOrderIsStable(t *testing.T) {
	var first []byte
	for run := 0; run < 5; run++ {
		a := newScriptedCore(t, 1, newMemStore())
		for i := byte(1); i <= 8; i++ {
			d := channel.Domain{ChainID: 1, ChannelID: channel.Hash{i}, Epoch: 1}
			a.c.step(coreEpoch, &addChannelEvent{domain: d, partner: channel.Address{i}, ownDeposit: 1, done: make(chan error, 1)})
		}
		var ids []byte
		for _, rec := range a.readyChecked(true).cut.batch.Channels {
			ids = append(ids, rec.ID[0])
		}
		if run == 0 {
			first = ids
		} else if !bytes.Equal(ids, first) {
			t.Fatalf("run %d cut order %v, run 0 %v", run, ids, first)
		}
	}
}

// durableWatch is a real store whose commits the test can see: it keeps, per channel, the
// highest own nonce on disk once a Commit has returned.
type durableWatch struct {
	*store.Store
	mu      sync.Mutex
	durable map[channel.Hash]uint64
}

func (w *durableWatch) Commit(b *store.Batch) error {
	if err := w.Store.Commit(b); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range b.Channels {
		c := &channel.Channel{}
		if c.UnmarshalBinary(r.State) == nil {
			w.durable[r.ID] = max(w.durable[r.ID], c.Own.Proof.Nonce)
		}
	}
	return nil
}

func (w *durableWatch) durableNonce(id channel.Hash) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.durable[id]
}

// sendWatch is a transport that checks, at each Send of an update, that the proof it carries is
// already on the sender's disk.
type sendWatch struct {
	transport.Transport
	disk    *durableWatch
	updates atomic.Int64
	early   atomic.Int64
}

func (s *sendWatch) Send(to common.Address, frame []byte) error {
	if len(frame) > 0 && channel.Kind(frame[0]) == channel.KindUpdate {
		if u, err := channel.DecodeUpdate(frame); err == nil {
			s.updates.Add(1)
			if u.Proof.Nonce > s.disk.durableNonce(u.Proof.Domain.ChannelID) {
				s.early.Add(1)
			}
		}
	}
	return s.Transport.Send(to, frame)
}

// TestRunnerSendsProofsOnlyOnceDurable runs the real runner (bbolt files, in-process hub, real
// clock) with many payments in flight and checks at the transport that no update ever left
// before the proof it carries was durable on the payer's disk.
func TestRunnerSendsProofsOnlyOnceDurable(t *testing.T) {
	hub := transport.NewHub()
	dir := t.TempDir()
	var nodes [2]*Node
	var watches [2]*sendWatch
	for i := range nodes {
		key := DeterministicKey(uint64(i + 1))
		st, err := store.Open(filepath.Join(dir, fmt.Sprintf("n%d.db", i)))
		if err != nil {
			t.Fatal(err)
		}
		disk := &durableWatch{Store: st, durable: map[channel.Hash]uint64{}}
		ep := hub.Join(crypto.PubkeyToAddress(key.PublicKey))
		watches[i] = &sendWatch{Transport: ep, disk: disk}
		n, err := NewNode(Config{Signer: channel.NewKeySigner(key), Store: disk, Transport: watches[i], Resend: 40 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
		t.Cleanup(func() { n.Close(); ep.Close(); st.Close() })
	}
	link(t, nodes[0], nodes[1], 1_000_000)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := nodes[0].Pay(ctxT(t), nodes[1].Address(), 1, uint64(w*1000+i+1)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := nodes[1].Channel(nodes[0].Address()).Received; got != 800 {
		t.Fatalf("payee holds %d, want 800", got)
	}
	if watches[0].updates.Load() == 0 || watches[0].early.Load() != 0 {
		t.Fatalf("%d of %d updates left before their proof was durable", watches[0].early.Load(), watches[0].updates.Load())
	}
}

// scriptedNet plays the runner for several cores: it persists every cut in memory before
// releasing its frames, delivers frames in order, and records which kinds left before a disk.
type scriptedNet struct {
	t       *testing.T
	cores   map[channel.Address]*scriptedCore
	queue   []outFrame
	from    []channel.Address
	now     time.Time
	leftNow map[channel.Kind]int
	// durable are the answers released after their cut was persisted.
	durable []reply[error]
}

func (sn *scriptedNet) drain(s *scriptedCore) {
	r := s.readyChecked(true)
	for _, f := range r.send {
		sn.leftNow[channel.Kind(f.frame[0])]++
		sn.queue, sn.from = append(sn.queue, f), append(sn.from, s.addr)
	}
	if r.cut != nil {
		out, durable := s.persist(r.cut)
		for _, f := range out {
			sn.queue, sn.from = append(sn.queue, f), append(sn.from, s.addr)
		}
		sn.durable = append(sn.durable, durable...)
	}
}

// run delivers until no frame is left (bounded, so a loop in the protocol fails the test).
func (sn *scriptedNet) run() {
	for _, s := range sn.cores {
		sn.drain(s)
	}
	for steps := 0; len(sn.queue) > 0; steps++ {
		if steps > 10_000 {
			sn.t.Fatal("the scripted net does not settle")
		}
		f, from := sn.queue[0], sn.from[0]
		sn.queue, sn.from = sn.queue[1:], sn.from[1:]
		to := sn.cores[f.to]
		to.c.step(sn.now, &frameEvent{from: from, frame: f.frame})
		sn.drain(to)
	}
}

// TestCoreScriptedMediatedTransfer drives A→B→C as three pure cores: the lock goes hop by hop
// after each hop's disk, the target's secret request (which commits nothing) is among the frames
// that leave at once, and the payment completes with every lock cleared.
func TestCoreScriptedMediatedTransfer(t *testing.T) {
	sn := &scriptedNet{t: t, cores: map[channel.Address]*scriptedCore{}, now: coreEpoch, leftNow: map[channel.Kind]int{}}
	var hops []*scriptedCore
	for seed := uint64(1); seed <= 3; seed++ {
		s := newScriptedCore(t, seed, newMemStore())
		sn.cores[s.addr] = s
		hops = append(hops, s)
	}
	a, b, c := hops[0], hops[1], hops[2]
	for _, pair := range [][2]*scriptedCore{{a, b}, {b, c}} {
		d := channel.Domain{ChainID: 1, ChannelID: crypto.Keccak256Hash(pair[0].addr[:], pair[1].addr[:]), Epoch: 1}
		pair[0].c.step(sn.now, &addChannelEvent{domain: d, partner: pair[1].addr, ownDeposit: 100, partDeposit: 100, done: make(chan error, 1)})
		pair[1].c.step(sn.now, &addChannelEvent{domain: d, partner: pair[0].addr, ownDeposit: 100, partDeposit: 100, done: make(chan error, 1)})
	}
	sn.run()
	done := make(chan error, 1)
	a.c.step(sn.now, &routeEvent{hops: []channel.Address{b.addr, c.addr}, amount: 9, id: 1, done: done, secret: channel.Hash{42}})
	sn.run()
	var answered []error
	for _, d := range sn.durable {
		if d.to == done {
			answered = append(answered, d.value)
		}
	}
	if len(answered) != 1 || answered[0] != nil {
		t.Fatalf("PayRoute answered %v after its unlock was durable, want one nil", answered)
	}
	if sn.leftNow[KindSecretRequest] == 0 {
		t.Fatal("the target's secret request waited for a disk it does not need")
	}
	for _, x := range []struct {
		s       *scriptedCore
		partner channel.Address
		want    uint64
	}{{b, a.addr, 9}, {c, b.addr, 9}} {
		in := x.s.c.info(x.s.c.partnerChannel(x.partner))
		if in.Received != x.want || in.PartnerLocked != 0 {
			t.Fatalf("%s received %d with %d locked, want %d and 0", x.s.addr, in.Received, in.PartnerLocked, x.want)
		}
	}
}
