package channel

import (
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/ethereum/go-ethereum/crypto"
)

// Errors a caller may branch on. Every refusal wraps one of them with what and where.
var (
	ErrStale         = errors.New("stale balance proof")
	ErrConflict      = errors.New("two different proofs with the same nonce")
	ErrWrongDomain   = errors.New("wrong domain")
	ErrOverspend     = errors.New("overspend")
	ErrInvalidLocks  = errors.New("invalid locks")
	ErrUnknownLock   = errors.New("unknown lock")
	ErrPartnerAhead  = errors.New("partner holds a newer proof of ours than our store")
	ErrInvalidAmount = errors.New("invalid amount")
	ErrLockExpired   = errors.New("lock expired")
)

// Side is one direction of the channel: a participant, its on-chain funds and the latest balance
// proof it has signed (Nonce 0 means none yet).
type Side struct {
	Address Address
	Deposit uint64
	// Withdrawn is the total withdrawal both participants agreed to (reserved: the side can no
	// longer spend it), whether or not it has been executed on chain yet.
	Withdrawn uint64
	// ChainWithdrawn is the total the contract has paid out; WithdrawExpiry is the expiry of the
	// agreed withdrawal not yet seen on chain (0 when none is pending).
	ChainWithdrawn uint64
	WithdrawExpiry uint64
	// WithdrawSig is this side's signature of its pending withdrawal (Withdrawn, WithdrawExpiry)
	// and WithdrawCoSig the other side's co-signature (zero until confirmed). Both are kept while
	// the withdrawal is pending so Sync can hand the agreement back to a partner that lost it.
	WithdrawSig, WithdrawCoSig [65]byte
	Proof                      BalanceProof
	Locks                      []Lock
}

// Channel is the state of one channel as seen by the Own participant.
type Channel struct {
	Domain  Domain
	Own     Side
	Partner Side
	// Acked is the highest own nonce the partner has confirmed it stored durably.
	Acked uint64
	// Closing is set once a cooperative settle was signed: no further proof is signed or accepted.
	Closing bool
}

// New starts a channel with no deposits and no proofs.
func New(d Domain, own, partner Address) *Channel {
	c := &Channel{Domain: d}
	c.Own.Address, c.Partner.Address = own, partner
	c.Own.Proof = emptyProof(d)
	c.Partner.Proof = emptyProof(d)
	return c
}

func emptyProof(d Domain) BalanceProof {
	return BalanceProof{Domain: d, Locksroot: Locksroot(nil)}
}

// RouteInfo travels with a newly added lock so the receiver knows where a mediated transfer goes.
type RouteInfo struct {
	PaymentID uint64
	Initiator Address
	Target    Address
	// Hops are the addresses after the receiver, ending with Target (empty when the receiver is it).
	Hops []Address
}

// MaxHops bounds a mediated route.
const MaxHops = 16

// Update is a signed balance proof with the full list of its pending locks, so every update is
// self-contained: a receiver that missed earlier ones can still verify it, and re-sending the
// latest one is all a lossy link ever needs.
type Update struct {
	Proof BalanceProof
	Locks []Lock
	// Route is set when this update adds a lock for a mediated transfer.
	Route *RouteInfo
}

// Ack confirms that the sender stored the partner's proofs up to Nonce durably. It is signed
// (AckDigest): an ack releases payers' callers and one claiming too high a nonce stops the
// channel, so nobody but the partner may make one.
type Ack struct {
	ChannelID Hash
	Epoch     uint64
	Nonce     uint64
	Signature [65]byte
}

// Balance is what participant s may still spend: deposit − withdrawn + received − sent − locked.
// ok is false if the side is overdrawn (which a valid state never is).
func Balance(s, other *Side) (amount uint64, ok bool) {
	in, c1 := bits.Add64(s.Deposit, other.Proof.Transferred, 0)
	out, c2 := bits.Add64(s.Withdrawn, s.Proof.Transferred, 0)
	out, c3 := bits.Add64(out, s.Proof.Locked, 0)
	if c1|c2|c3 != 0 || in < out {
		return 0, false
	}
	return in - out, true
}

// OwnBalance and PartnerBalance are the spendable balances of each side.
func (c *Channel) OwnBalance() uint64 { b, _ := Balance(&c.Own, &c.Partner); return b }

// PartnerBalance is the partner's spendable balance.
func (c *Channel) PartnerBalance() uint64 { b, _ := Balance(&c.Partner, &c.Own); return b }

// CheckInvariant verifies that neither side is overdrawn and that balances and locks add up to the
// deposits minus the withdrawals.
func (c *Channel) CheckInvariant() error {
	a, okA := Balance(&c.Own, &c.Partner)
	b, okB := Balance(&c.Partner, &c.Own)
	if !okA || !okB {
		return fmt.Errorf("channel %x: a side is overdrawn", c.Domain.ChannelID[:4])
	}
	used := uint128{}.add(a).add(b).add(c.Own.Proof.Locked).add(c.Partner.Proof.Locked).
		add(c.Own.Withdrawn).add(c.Partner.Withdrawn)
	funds := uint128{}.add(c.Own.Deposit).add(c.Partner.Deposit)
	if used != funds {
		return fmt.Errorf("channel %x: balances %d+%d, locks %d+%d and withdrawals %d+%d do not sum to deposits %d+%d",
			c.Domain.ChannelID[:4], a, b, c.Own.Proof.Locked, c.Partner.Proof.Locked,
			c.Own.Withdrawn, c.Partner.Withdrawn, c.Own.Deposit, c.Partner.Deposit)
	}
	return nil
}

type uint128 struct{ hi, lo uint64 }

func (u uint128) add(v uint64) uint128 {
	lo, carry := bits.Add64(u.lo, v, 0)
	return uint128{u.hi + carry, lo}
}

// SetDeposit records a participant's total deposit as seen on chain; totals only grow.
func (c *Channel) SetDeposit(who Address, total uint64) error {
	s, err := c.side(who)
	if err != nil {
		return err
	}
	if total < s.Deposit {
		return fmt.Errorf("deposit of %s: total %d below known %d", who, total, s.Deposit)
	}
	s.Deposit = total
	return nil
}

// SetWithdrawn records a participant's total withdrawal as executed on chain; totals only grow and
// never leave the side overdrawn.
func (c *Channel) SetWithdrawn(who Address, total uint64) error {
	s, err := c.side(who)
	if err != nil {
		return err
	}
	if total < s.ChainWithdrawn {
		return fmt.Errorf("withdrawal of %s: total %d below known %d", who, total, s.ChainWithdrawn)
	}
	if total > s.Withdrawn {
		old := s.Withdrawn
		s.Withdrawn = total
		if _, ok := Balance(s, c.other(s)); !ok {
			s.Withdrawn = old
			return fmt.Errorf("withdrawal of %s: total %d: %w", who, total, ErrOverspend)
		}
	}
	s.ChainWithdrawn = total
	if s.ChainWithdrawn == s.Withdrawn {
		s.WithdrawExpiry = 0
	}
	return nil
}

func (c *Channel) side(who Address) (*Side, error) {
	switch who {
	case c.Own.Address:
		return &c.Own, nil
	case c.Partner.Address:
		return &c.Partner, nil
	}
	return nil, fmt.Errorf("%s is not a participant of channel %x", who, c.Domain.ChannelID[:4])
}

func (c *Channel) other(s *Side) *Side {
	if s == &c.Own {
		return &c.Partner
	}
	return &c.Own
}

// Latest is the newest own update, to (re-)send to the partner.
func (c *Channel) Latest() Update {
	return Update{Proof: c.Own.Proof, Locks: cloneLocks(c.Own.Locks)}
}

// Unacked reports whether the partner has not yet confirmed the latest own proof.
func (c *Channel) Unacked() bool { return c.Acked < c.Own.Proof.Nonce }

// Direct transfers amount to the partner and returns the signed update to persist, then send.
func (c *Channel) Direct(amount uint64, s Signer) (Update, error) {
	if amount == 0 {
		return Update{}, fmt.Errorf("direct transfer: amount 0: %w", ErrInvalidAmount)
	}
	t, carry := bits.Add64(c.Own.Proof.Transferred, amount, 0)
	if carry != 0 {
		return Update{}, fmt.Errorf("direct transfer of %d: transferred total overflows: %w", amount, ErrOverspend)
	}
	return c.sign(t, c.Own.Locks, nil, s)
}

// AddLock locks l.Amount towards the partner for a mediated transfer.
func (c *Channel) AddLock(l Lock, route RouteInfo, now uint64, s Signer) (Update, error) {
	if l.Amount == 0 {
		return Update{}, fmt.Errorf("lock %x: amount 0: %w", l.SecretHash[:4], ErrInvalidAmount)
	}
	if l.Expiration <= now {
		return Update{}, fmt.Errorf("lock %x: expiration %d not after now %d: %w", l.SecretHash[:4], l.Expiration, now, ErrInvalidLocks)
	}
	if len(route.Hops) > MaxHops {
		return Update{}, fmt.Errorf("lock %x: %d hops, at most %d", l.SecretHash[:4], len(route.Hops), MaxHops)
	}
	locks := append(cloneLocks(c.Own.Locks), l)
	r := route
	r.Hops = append([]Address(nil), route.Hops...)
	return c.sign(c.Own.Proof.Transferred, locks, &r, s)
}

// Unlock pays the lock whose secret is now known: the lock leaves the set and its amount joins
// the transferred total. It refuses once the lock has expired at now (Unix seconds): the payer's
// own incoming lock upstream expired before it, so nobody would pay the payer back, and the
// payee would count the amount as a plain transfer.
func (c *Channel) Unlock(secret Hash, now uint64, s Signer) (Update, error) {
	h := crypto.Keccak256Hash(secret[:])
	i := findLock(c.Own.Locks, h)
	if i < 0 {
		return Update{}, fmt.Errorf("unlock %x: %w", h[:4], ErrUnknownLock)
	}
	if exp := c.Own.Locks[i].Expiration; now >= exp {
		return Update{}, fmt.Errorf("unlock %x: expired at %d, now %d: %w", h[:4], exp, now, ErrLockExpired)
	}
	t, carry := bits.Add64(c.Own.Proof.Transferred, c.Own.Locks[i].Amount, 0)
	if carry != 0 {
		return Update{}, fmt.Errorf("unlock %x: transferred total overflows: %w", h[:4], ErrOverspend)
	}
	return c.sign(t, removeLock(c.Own.Locks, i), nil, s)
}

// RemoveExpired takes back an own lock whose expiration has passed.
func (c *Channel) RemoveExpired(secretHash Hash, now uint64, s Signer) (Update, error) {
	i := findLock(c.Own.Locks, secretHash)
	if i < 0 {
		return Update{}, fmt.Errorf("expire %x: %w", secretHash[:4], ErrUnknownLock)
	}
	if now < c.Own.Locks[i].Expiration {
		return Update{}, fmt.Errorf("expire %x: expires at %d, now %d: %w", secretHash[:4], c.Own.Locks[i].Expiration, now, ErrInvalidLocks)
	}
	return c.sign(c.Own.Proof.Transferred, removeLock(c.Own.Locks, i), nil, s)
}

// sign builds, checks, signs and applies the next own proof. Nothing changes on error.
func (c *Channel) sign(transferred uint64, locks []Lock, route *RouteInfo, s Signer) (Update, error) {
	if c.Closing {
		return Update{}, ErrClosing
	}
	if s.Address() != c.Own.Address {
		return Update{}, fmt.Errorf("signer %s is not the channel's own participant %s", s.Address(), c.Own.Address)
	}
	if c.Own.Proof.Nonce == math.MaxUint64 {
		return Update{}, errors.New("nonce space exhausted; settle the channel")
	}
	if err := checkLocks(locks); err != nil {
		return Update{}, err
	}
	locked, err := sumLocks(locks)
	if err != nil {
		return Update{}, fmt.Errorf("%w: %v", ErrInvalidLocks, err)
	}
	p := BalanceProof{Domain: c.Domain, Nonce: c.Own.Proof.Nonce + 1, Transferred: transferred, Locked: locked, Locksroot: Locksroot(locks)}
	next := c.Own
	next.Proof = p
	if _, ok := Balance(&next, &c.Partner); !ok {
		return Update{}, fmt.Errorf("proof %d: transferred %d + locked %d exceed the balance: %w", p.Nonce, transferred, locked, ErrOverspend)
	}
	sig, err := s.Sign(p.Digest())
	if err != nil {
		return Update{}, err
	}
	p.Signature = sig
	c.Own.Proof = p
	c.Own.Locks = locks
	return Update{Proof: p, Locks: cloneLocks(locks), Route: route}, nil
}

// Received says what a partner's update changed.
type Received struct {
	// Duplicate is true when the update equals the latest one held: acknowledge again, nothing else.
	Duplicate bool
	// Direct is the amount transferred outright (not by unlocking a lock).
	Direct uint64
	// Added, Unlocked and Expired are the locks that appeared, were paid, and were taken back.
	Added, Unlocked, Expired []Lock
}

// Receive validates a partner's update against the known state at time now and applies it. A
// refused update changes nothing.
func (c *Channel) Receive(u Update, now uint64) (Received, error) {
	return c.receive(u, now, nil)
}

// ReceiveRecovered is Receive for a caller that has already recovered the signer of u.Proof
// (with Recover, typically for many updates in parallel); the signer must still be the partner.
func (c *Channel) ReceiveRecovered(u Update, now uint64, signer Address) (Received, error) {
	return c.receive(u, now, &signer)
}

func (c *Channel) receive(u Update, now uint64, recovered *Address) (Received, error) {
	p := &u.Proof
	if err := c.checkProofRecovered(u, c.Partner.Address, recovered); err != nil {
		return Received{}, err
	}
	old := &c.Partner
	if c.Closing && p.Nonce > old.Proof.Nonce {
		return Received{}, fmt.Errorf("proof %d: %w", p.Nonce, ErrClosing)
	}
	switch {
	case p.Nonce < old.Proof.Nonce:
		return Received{}, fmt.Errorf("proof %d, latest %d: %w", p.Nonce, old.Proof.Nonce, ErrStale)
	case p.Nonce == old.Proof.Nonce:
		if p.Digest() == old.Proof.Digest() {
			return Received{Duplicate: true}, nil
		}
		return Received{}, fmt.Errorf("proof %d: %w", p.Nonce, ErrConflict)
	}
	if p.Transferred < old.Proof.Transferred {
		return Received{}, fmt.Errorf("proof %d: transferred %d below %d: %w", p.Nonce, p.Transferred, old.Proof.Transferred, ErrInvalidAmount)
	}
	r := diffLocks(old.Locks, u.Locks, now)
	delta := p.Transferred - old.Proof.Transferred
	var unlocked uint64
	for _, l := range r.Unlocked {
		unlocked += l.Amount // cannot overflow: bounded by the old locked total
	}
	if delta < unlocked {
		return Received{}, fmt.Errorf("proof %d: removes unexpired locks worth %d but transfers only %d: %w", p.Nonce, unlocked, delta, ErrInvalidLocks)
	}
	r.Direct = delta - unlocked
	next := *old
	next.Proof = *p
	next.Locks = cloneLocks(u.Locks)
	if _, ok := Balance(&next, &c.Own); !ok {
		return Received{}, fmt.Errorf("proof %d: transferred %d + locked %d exceed the partner's balance: %w", p.Nonce, p.Transferred, p.Locked, ErrOverspend)
	}
	c.Partner = next
	return r, nil
}

// checkProof checks domain, signature and locks of an update signed by signer.
func (c *Channel) checkProof(u Update, signer Address) error {
	return c.checkProofRecovered(u, signer, nil)
}

func (c *Channel) checkProofRecovered(u Update, signer Address, recovered *Address) error {
	p := &u.Proof
	if p.Domain != c.Domain {
		return fmt.Errorf("proof %d for chain %d contract %s channel %x epoch %d: %w", p.Nonce,
			p.Domain.ChainID, p.Domain.Contract, p.Domain.ChannelID[:4], p.Domain.Epoch, ErrWrongDomain)
	}
	if p.Nonce == 0 {
		return fmt.Errorf("proof with nonce 0: %w", ErrStale)
	}
	if err := checkLocks(u.Locks); err != nil {
		return fmt.Errorf("proof %d: %w", p.Nonce, err)
	}
	locked, err := sumLocks(u.Locks)
	if err != nil || locked != p.Locked || Locksroot(u.Locks) != p.Locksroot {
		return fmt.Errorf("proof %d: locked amount or locksroot does not match the %d locks sent: %w", p.Nonce, len(u.Locks), ErrInvalidLocks)
	}
	var who Address
	if recovered != nil {
		who = *recovered
	} else if who, err = Recover(p.Digest(), p.Signature); err != nil {
		return fmt.Errorf("proof %d: %w", p.Nonce, err)
	}
	if who != signer {
		return fmt.Errorf("proof %d signed by %s, want %s: %w", p.Nonce, who, signer, ErrBadSignature)
	}
	return nil
}

// HandleAck records the partner's signed confirmation. A nonce above our latest means our store
// lost proofs we signed; the caller must re-establish (Sync) before signing anything new.
func (c *Channel) HandleAck(a Ack) error {
	if a.ChannelID != c.Domain.ChannelID || a.Epoch != c.Domain.Epoch {
		return fmt.Errorf("ack for channel %x epoch %d: %w", a.ChannelID[:4], a.Epoch, ErrWrongDomain)
	}
	if who, err := Recover(AckDigest(c.Domain, a.Nonce), a.Signature); err != nil || who != c.Partner.Address {
		return fmt.Errorf("ack of nonce %d not signed by the partner %s: %w", a.Nonce, c.Partner.Address, ErrBadSignature)
	}
	if a.Nonce > c.Own.Proof.Nonce {
		return fmt.Errorf("ack of nonce %d, own latest %d: %w", a.Nonce, c.Own.Proof.Nonce, ErrPartnerAhead)
	}
	if a.Nonce > c.Acked {
		c.Acked = a.Nonce
	}
	return nil
}

// AckFor is the signed acknowledgement of everything received from the partner so far.
func (c *Channel) AckFor(s Signer) (Ack, error) {
	a := Ack{ChannelID: c.Domain.ChannelID, Epoch: c.Domain.Epoch, Nonce: c.Partner.Proof.Nonce}
	sig, err := s.Sign(AckDigest(c.Domain, a.Nonce))
	if err != nil {
		return Ack{}, fmt.Errorf("sign ack of nonce %d: %w", a.Nonce, err)
	}
	a.Signature = sig
	return a, nil
}

func checkLocks(locks []Lock) error {
	if len(locks) > MaxLocks {
		return fmt.Errorf("%d locks, at most %d: %w", len(locks), MaxLocks, ErrInvalidLocks)
	}
	for i, l := range locks {
		if l.Amount == 0 {
			return fmt.Errorf("lock %d: amount 0: %w", i, ErrInvalidLocks)
		}
		for j := 0; j < i; j++ {
			if locks[j].SecretHash == l.SecretHash {
				return fmt.Errorf("lock %d: secret hash %x repeated: %w", i, l.SecretHash[:4], ErrInvalidLocks)
			}
		}
	}
	return nil
}

// diffLocks classifies the locks that left the set as unlocked (not yet expired at now: they must
// be paid) or expired, and lists the new ones.
func diffLocks(old, next []Lock, now uint64) Received {
	var r Received
	for _, l := range old {
		if findExact(next, l) < 0 {
			if now < l.Expiration {
				r.Unlocked = append(r.Unlocked, l)
			} else {
				r.Expired = append(r.Expired, l)
			}
		}
	}
	for _, l := range next {
		if findExact(old, l) < 0 {
			r.Added = append(r.Added, l)
		}
	}
	return r
}

func findLock(locks []Lock, h Hash) int {
	for i, l := range locks {
		if l.SecretHash == h {
			return i
		}
	}
	return -1
}

func findExact(locks []Lock, l Lock) int {
	for i, x := range locks {
		if x == l {
			return i
		}
	}
	return -1
}

func removeLock(locks []Lock, i int) []Lock {
	out := make([]Lock, 0, len(locks)-1)
	out = append(out, locks[:i]...)
	return append(out, locks[i+1:]...)
}

func cloneLocks(l []Lock) []Lock {
	if len(l) == 0 {
		return nil
	}
	return append([]Lock(nil), l...)
}
