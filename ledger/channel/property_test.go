package channel

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

// intent is what a side meant its proof of one nonce to say, worked out by the test from the
// operations it asked for (never read back from the state machine).
type intent struct {
	transferred uint64
	locks       []Lock
}

func (in intent) locked() uint64 {
	var sum uint64
	for _, l := range in.locks {
		sum += l.Amount
	}
	return sum
}

// peer is one end of a channel in the simulated network: the live state, the snapshots of its
// disk (persisted after every change, before anything is sent), its key and the secrets it chose.
type peer struct {
	ch      *Channel
	disk    []byte
	history [][]byte // older disk snapshots a store that lost data may fall back to
	signer  *KeySigner
	secrets map[Hash]Hash
	// syncing is set after a restart from a store that lost data: the side signs nothing until the
	// partner's Sync has told it its latest own proof (waitPartner: the partner nonce announced).
	syncing     bool
	waitPartner uint64
	// reserved[x] is the withdrawal this side has agreed to for participant x (0 own, 1 partner),
	// kept by the model from the withdrawal steps that succeeded.
	reserved [2]uint64
	diskRes  [2]uint64
	// floorRollback: the earliest snapshot a data loss may fall back to (the last withdrawal
	// change: Sync recovers balance proofs, not withdrawal agreements).
	floorRollback int
}

func (p *peer) persist(t *testing.T) {
	b, err := p.ch.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if p.disk != nil {
		p.history = append(p.history, p.disk)
	}
	p.disk = b
	p.diskRes = p.reserved
}

func (p *peer) load(t *testing.T, b []byte) {
	var c Channel
	if err := c.UnmarshalBinary(b); err != nil {
		t.Fatalf("restart: %v", err)
	}
	p.ch = &c
	p.reserved = p.diskRes
}

// model holds, independently of the state machine, every side's intended proofs by nonce, the
// deposits, the withdrawals executed on chain, the highest nonce each side ever let out, and the
// highest partner nonce each side ever stored.
type model struct {
	intents    [2]map[uint64]intent
	deposit    [2]uint64
	chainW     [2]uint64
	maxSent    [2]uint64
	maxHeld    [2]uint64 // partner nonce stored on disk (survives restarts without data loss)
	confirmed  [2]uint64 // highest own nonce the partner acknowledged
	directs    [2]uint64 // total sent by direct transfers that left the unit
	unlocked   [2]uint64 // total paid by unlocks that left the unit
	lockEvents [2]int    // locks added, unlocked or expired that left the unit
	seen       coverage
}

// coverage counts the rarer paths a run took, so the test fails if the random mix stops reaching them.
type coverage struct{ dataLosses, recovered, withdrawals, released, unlocks, expiries int }

func (c *coverage) add(o coverage) {
	c.dataLosses += o.dataLosses
	c.recovered += o.recovered
	c.withdrawals += o.withdrawals
	c.released += o.released
	c.unlocks += o.unlocks
	c.expiries += o.expiries
}

// TestPropertyRandomInterleavings drives two ends through random transfers, locks, unlocks,
// expiries, withdrawals, message drops, duplicates, reordering, restarts and data loss recovered
// by Sync, checking both ends against the test's own model after every step.
func TestPropertyRandomInterleavings(t *testing.T) {
	var seen coverage
	for seed := uint64(1); seed <= 200; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { seen.add(runInterleaving(t, seed, 400)) })
	}
	if seen.dataLosses == 0 || seen.recovered == 0 || seen.withdrawals == 0 || seen.released == 0 || seen.unlocks == 0 || seen.expiries == 0 {
		t.Fatalf("the random mix missed a path: %+v", seen)
	}
	t.Logf("paths taken: %+v", seen)
}

func runInterleaving(t *testing.T, seed uint64, steps int) coverage {
	rng := rand.New(rand.NewPCG(seed, 99))
	a, b, sa, sb := pair(t, 1000)
	peers := [2]*peer{{ch: a, signer: sa, secrets: map[Hash]Hash{}}, {ch: b, signer: sb, secrets: map[Hash]Hash{}}}
	m := &model{deposit: [2]uint64{1000, 1000}}
	for i, p := range peers {
		p.persist(t)
		m.intents[i] = map[uint64]intent{0: {}}
	}
	var queues [2][][]byte // queues[i]: messages travelling to peers[i]
	now := uint64(100)
	step := -1
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d step %d: %s", seed, step, fmt.Sprintf(format, args...))
	}
	send := func(to int, msg []byte) { queues[to] = append(queues[to], msg) }
	// signed records an own proof that is now on disk and leaves the unit.
	signed := func(i int, u Update, want intent) {
		t.Helper()
		p := peers[i]
		if u.Proof.Nonce <= m.maxSent[i] {
			fail("side %d signed nonce %d, but nonce %d already left it", i, u.Proof.Nonce, m.maxSent[i])
		}
		if u.Proof.Transferred != want.transferred || !slices.Equal(u.Locks, want.locks) || u.Proof.Locked != want.locked() {
			fail("side %d proof %d: transferred %d locked %d, model says %d and %d", i, u.Proof.Nonce, u.Proof.Transferred, u.Proof.Locked, want.transferred, want.locked())
		}
		m.intents[i][u.Proof.Nonce] = want
		m.maxSent[i] = u.Proof.Nonce
		p.persist(t)
		send(1-i, EncodeUpdate(u))
	}
	deliver := func(to int, msg []byte) {
		p := peers[to]
		switch Kind(msg[0]) {
		case KindUpdate:
			u, err := DecodeUpdate(msg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.ch.Receive(u, now)
			if errors.Is(err, ErrOverspend) && p.syncing {
				return // its store lost our payments to it: refused until Sync restores them; resent later
			}
			if err != nil && !errors.Is(err, ErrStale) {
				fail("honest update %d refused by side %d: %v", u.Proof.Nonce, to, err)
			}
			p.persist(t) // durable before acknowledged
			if !p.syncing {
				m.maxHeld[to] = max(m.maxHeld[to], p.ch.Partner.Proof.Nonce)
			}
			send(1-to, EncodeAck(mustAck(t, p.ch, p.signer)))
		case KindAck:
			ack, err := DecodeAck(msg)
			if err != nil {
				t.Fatal(err)
			}
			err = p.ch.HandleAck(ack)
			if errors.Is(err, ErrPartnerAhead) && p.syncing {
				return // the store lost proofs: the Sync under way recovers them
			}
			if err != nil {
				fail("ack at side %d: %v", to, err)
			}
			m.confirmed[to] = max(m.confirmed[to], p.ch.Acked)
			p.persist(t)
		case KindSync:
			s, err := DecodeSync(msg)
			if err != nil {
				t.Fatal(err)
			}
			r, err := p.ch.HandleSync(s)
			if err != nil {
				fail("sync at side %d: %v", to, err)
			}
			p.persist(t)
			if r.Recovered {
				m.seen.recovered++
			}
			if r.Resend {
				send(1-to, EncodeUpdate(p.ch.Latest()))
			}
			if s.WantReply {
				send(1-to, EncodeSync(p.ch.SyncMessage(false)))
			}
			if p.syncing && !s.WantReply {
				p.syncing = false
				p.waitPartner = s.OwnNonce
			}
		case KindWithdrawRequest:
			req, err := DecodeWithdrawRequest(msg)
			if err != nil {
				t.Fatal(err)
			}
			conf, err := p.ch.ConfirmWithdraw(req, now, p.signer)
			if errors.Is(err, ErrStale) || errors.Is(err, ErrWithdraw) {
				return // not on the requester's latest proof yet, or superseded
			}
			if err != nil {
				fail("honest withdraw request refused by side %d: %v", to, err)
			}
			p.reserved[1] = req.Total
			p.floorRollback = len(p.history) + 1
			p.persist(t)
			send(1-to, EncodeWithdrawConfirm(conf))
		case KindWithdrawConfirm:
			conf, err := DecodeWithdrawConfirm(msg)
			if err != nil {
				t.Fatal(err)
			}
			if p.ch.CheckWithdrawConfirm(conf) != nil || p.ch.Own.Withdrawn == p.ch.Own.ChainWithdrawn || now >= conf.Request.Expiry {
				return // stale confirmation, already executed, or too late for the chain
			}
			// The requester submits it and the chain executes it; both sides see the event.
			total := conf.Request.Total
			m.chainW[to] = total
			m.seen.withdrawals++
			for k, q := range peers {
				who := to
				if err := q.ch.SetWithdrawn(q.ch.sideAddress(who == k), total); err != nil {
					fail("side %d records the executed withdrawal: %v", k, err)
				}
				q.reserved[boolIndex(who != k)] = total
				q.floorRollback = len(q.history) + 1
				q.persist(t)
			}
		}
	}
	check := func() {
		t.Helper()
		for v, p := range peers {
			checkSide(t, fail, m, v, p)
		}
	}
	for step = 0; step < steps; step++ {
		i := rng.IntN(2)
		p := peers[i]
		cur := m.intents[i][p.ch.Own.Proof.Nonce]
		switch op := rng.IntN(14); op {
		case 0, 1, 2:
			if p.syncing {
				break
			}
			amount := 1 + rng.Uint64N(60)
			u, err := p.ch.Direct(amount, p.signer)
			if err == nil {
				signed(i, u, intent{cur.transferred + amount, cur.locks})
				m.directs[i] += amount
			} else if !errors.Is(err, ErrOverspend) {
				t.Fatal(err)
			}
		case 3:
			if p.syncing {
				break
			}
			var secret Hash
			binaryRand(rng, secret[:])
			h := crypto.Keccak256Hash(secret[:])
			l := Lock{Expiration: now + 1 + rng.Uint64N(40), Amount: 1 + rng.Uint64N(80), SecretHash: h}
			u, err := p.ch.AddLock(l, RouteInfo{}, now, p.signer)
			if err == nil {
				p.secrets[h] = secret
				signed(i, u, intent{cur.transferred, append(slices.Clone(cur.locks), l)})
				m.lockEvents[i]++
			} else if !errors.Is(err, ErrOverspend) && !errors.Is(err, ErrInvalidLocks) {
				t.Fatal(err)
			}
		case 4:
			if p.syncing || len(cur.locks) == 0 {
				break
			}
			k := rng.IntN(len(cur.locks))
			l := cur.locks[k]
			rest := slices.Delete(slices.Clone(cur.locks), k, k+1)
			if len(rest) == 0 {
				rest = nil
			}
			if now < l.Expiration {
				u, err := p.ch.Unlock(p.secrets[l.SecretHash], now, p.signer)
				if err != nil {
					t.Fatal(err)
				}
				signed(i, u, intent{cur.transferred + l.Amount, rest})
				m.unlocked[i] += l.Amount
				m.seen.unlocks++
			} else {
				u, err := p.ch.RemoveExpired(l.SecretHash, now, p.signer)
				if err != nil {
					t.Fatal(err)
				}
				signed(i, u, intent{cur.transferred, rest})
				m.seen.expiries++
			}
			m.lockEvents[i]++
		case 5:
			now += rng.Uint64N(5)
			for k, q := range peers { // the chain's clock: expired, unexecuted withdrawals come back
				for x := range 2 {
					who := q.ch.sideAddress(x == 0)
					if released, err := q.ch.ReleaseExpiredWithdraw(who, now); err != nil {
						t.Fatal(err)
					} else if released {
						m.seen.released++
						q.reserved[x] = m.chainW[sideOf(k, x)]
						q.floorRollback = len(q.history) + 1
						q.persist(t)
					}
				}
			}
		case 6, 7: // deliver, drop, or duplicate-deliver any queued message (reordering)
			if q := queues[i]; len(q) > 0 {
				k := rng.IntN(len(q))
				msg := q[k]
				switch rng.IntN(4) {
				case 0: // dropped
				case 1: // duplicated: stays queued
					deliver(i, msg)
					check()
					continue
				default:
					deliver(i, msg)
				}
				queues[i] = append(q[:k:k], q[k+1:]...)
			}
		case 8: // retry timers: the latest unacknowledged proof, or the Sync still unanswered
			if p.syncing || p.ch.Partner.Proof.Nonce < p.waitPartner {
				send(1-i, EncodeSync(p.ch.SyncMessage(true)))
			} else if p.ch.Unacked() {
				send(1-i, EncodeUpdate(p.ch.Latest()))
			}
		case 9: // crash and restart: in-memory state is lost, the disk survives
			p.load(t, p.disk)
			if p.syncing {
				send(1-i, EncodeSync(p.ch.SyncMessage(true)))
			}
		case 10: // crash after signing but before the state reached the disk: nothing was sent
			if _, err := p.ch.Direct(1, p.signer); err == nil {
				p.load(t, p.disk)
			}
		case 11: // the store lost its latest writes (only of proofs the partner has stored)
			if p.syncing || p.ch.Acked < p.ch.Own.Proof.Nonce || len(p.history) <= p.floorRollback {
				break
			}
			back := p.floorRollback + rng.IntN(len(p.history)-p.floorRollback)
			p.disk = p.history[back]
			p.history = p.history[:back]
			p.load(t, p.disk)
			m.maxHeld[i] = p.ch.Partner.Proof.Nonce // the partner re-sends what was lost
			p.syncing = true
			m.seen.dataLosses++
			send(1-i, EncodeSync(p.ch.SyncMessage(true)))
		case 12: // an off-chain withdrawal of part of the balance
			if p.syncing || p.ch.Own.Withdrawn != p.ch.Own.ChainWithdrawn {
				break
			}
			bal := p.ch.OwnBalance()
			if bal == 0 {
				break
			}
			total := p.ch.Own.Withdrawn + 1 + rng.Uint64N(min(bal, 50))
			req, err := p.ch.RequestWithdraw(total, now+1+rng.Uint64N(30), now, p.signer)
			if err != nil {
				fail("withdraw %d at side %d: %v", total, i, err)
			}
			p.reserved[0] = total
			p.floorRollback = len(p.history) + 1
			p.persist(t)
			send(1-i, EncodeWithdrawRequest(req))
		case 13: // resend the pending withdrawal request (a retry timer)
			if !p.syncing && p.ch.Own.Withdrawn != p.ch.Own.ChainWithdrawn && now < p.ch.Own.WithdrawExpiry {
				req, err := p.ch.RequestWithdraw(p.ch.Own.Withdrawn, p.ch.Own.WithdrawExpiry, now, p.signer)
				if err != nil {
					fail("resend withdraw at side %d: %v", i, err)
				}
				send(1-i, EncodeWithdrawRequest(req))
			}
		}
		check()
	}
	// Drain: retry timers fire and links deliver until both are acknowledged and synced.
	for round := 0; round < 10; round++ {
		for i, p := range peers {
			if p.syncing || p.ch.Partner.Proof.Nonce < p.waitPartner {
				send(1-i, EncodeSync(p.ch.SyncMessage(true)))
			} else if p.ch.Unacked() {
				send(1-i, EncodeUpdate(p.ch.Latest()))
			}
		}
		for i := range queues {
			for len(queues[i]) > 0 {
				msg := queues[i][0]
				queues[i] = queues[i][1:]
				deliver(i, msg)
				check()
			}
		}
	}
	a, b = peers[0].ch, peers[1].ch
	if a.Own.Proof != b.Partner.Proof || b.Own.Proof != a.Partner.Proof || a.Unacked() || b.Unacked() || peers[0].syncing || peers[1].syncing {
		fail("sides did not converge: a own %d / b holds %d, b own %d / a holds %d",
			a.Own.Proof.Nonce, b.Partner.Proof.Nonce, b.Own.Proof.Nonce, a.Partner.Proof.Nonce)
	}
	for i, c := range []*Channel{a, b} {
		last := m.intents[i][c.Own.Proof.Nonce]
		if c.Own.Proof.Nonce != m.maxSent[i] || m.confirmed[i] != m.maxSent[i] {
			fail("side %d ends at nonce %d, confirmed %d, but sent %d", i, c.Own.Proof.Nonce, m.confirmed[i], m.maxSent[i])
		}
		if last.transferred != m.directs[i]+m.unlocked[i] {
			fail("side %d transferred %d, meant %d directly + %d by unlocks", i, last.transferred, m.directs[i], m.unlocked[i])
		}
	}
	return m.seen
}

// checkSide compares side v's view with the model: both proofs it holds say what their signer
// meant, both balances are what the model derives, they sum to deposits − withdrawals − locked,
// and no nonce went backwards.
func checkSide(t *testing.T, fail func(string, ...any), m *model, v int, p *peer) {
	t.Helper()
	c := p.ch
	held := [2]*Side{&c.Own, &c.Partner} // index x: 0 this side, 1 the partner
	var want [2]intent
	for x, s := range held {
		signer := sideOf(v, x)
		in, ok := m.intents[signer][s.Proof.Nonce]
		if !ok {
			fail("side %d holds proof %d of side %d, which that side never signed and sent", v, s.Proof.Nonce, signer)
		}
		if s.Proof.Transferred != in.transferred || s.Proof.Locked != in.locked() || !slices.Equal(s.Locks, in.locks) {
			fail("side %d holds proof %d of side %d with transferred %d locked %d, model %d and %d",
				v, s.Proof.Nonce, signer, s.Proof.Transferred, s.Proof.Locked, in.transferred, in.locked())
		}
		if s.Deposit != m.deposit[signer] || s.Withdrawn != p.reserved[x] {
			fail("side %d sees deposit %d withdrawn %d for side %d, model %d and %d", v, s.Deposit, s.Withdrawn, signer, m.deposit[signer], p.reserved[x])
		}
		want[x] = in
	}
	var bal [2]uint64
	for x := range 2 {
		signer := sideOf(v, x)
		in := m.deposit[signer] + want[1-x].transferred
		out := p.reserved[x] + want[x].transferred + want[x].locked()
		if in < out {
			fail("model: side %d overdrawn in the view of side %d", signer, v)
		}
		bal[x] = in - out
	}
	if c.OwnBalance() != bal[0] || c.PartnerBalance() != bal[1] {
		fail("side %d sees balances %d/%d, model %d/%d", v, c.OwnBalance(), c.PartnerBalance(), bal[0], bal[1])
	}
	funds := m.deposit[0] + m.deposit[1] - p.reserved[0] - p.reserved[1] - want[0].locked() - want[1].locked()
	if c.OwnBalance()+c.PartnerBalance() != funds {
		fail("side %d: balances %d+%d do not sum to deposits − withdrawals − locked = %d", v, c.OwnBalance(), c.PartnerBalance(), funds)
	}
	if !p.syncing {
		if c.Own.Proof.Nonce < m.maxSent[v] {
			fail("side %d is back at own nonce %d after sending %d", v, c.Own.Proof.Nonce, m.maxSent[v])
		}
		if c.Partner.Proof.Nonce < m.maxHeld[v] {
			fail("side %d holds partner nonce %d after storing %d", v, c.Partner.Proof.Nonce, m.maxHeld[v])
		}
	}
}

// sideOf maps index x of side v's view (0 own, 1 partner) to the global side number.
func sideOf(v, x int) int { return v ^ x }

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sideAddress is the own participant's address if own, else the partner's.
func (c *Channel) sideAddress(own bool) Address {
	if own {
		return c.Own.Address
	}
	return c.Partner.Address
}

func binaryRand(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}
