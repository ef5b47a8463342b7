package channel

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

// peer is one end of a channel in the simulated network: the live state, the state on its disk
// (persisted after every change, before anything is sent), its key and the secrets it has chosen.
type peer struct {
	ch      *Channel
	disk    []byte
	signer  *KeySigner
	secrets map[Hash]Hash
	sent    uint64 // what this side meant to pay, by direct transfers and unlocks
	got     uint64 // what it was paid according to Receive
}

func (p *peer) persist(t *testing.T) {
	b, err := p.ch.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	p.disk = b
}

func (p *peer) restart(t *testing.T) {
	var c Channel
	if err := c.UnmarshalBinary(p.disk); err != nil {
		t.Fatalf("restart: %v", err)
	}
	p.ch = &c
}

// TestPropertyRandomInterleavings drives two ends through random transfers, locks, unlocks,
// expiries, message drops, duplicates, reordering and restarts. After every step the invariant
// holds on both sides; at the end, after the network drains, both hold the same latest states.
func TestPropertyRandomInterleavings(t *testing.T) {
	for seed := uint64(1); seed <= 60; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runInterleaving(t, seed, 250) })
	}
}

func runInterleaving(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	a, b, sa, sb := pair(t, 1000)
	peers := [2]*peer{{ch: a, signer: sa, secrets: map[Hash]Hash{}}, {ch: b, signer: sb, secrets: map[Hash]Hash{}}}
	for _, p := range peers {
		p.persist(t)
	}
	var queues [2][][]byte // queues[i]: messages travelling to peers[i]
	now := uint64(100)
	send := func(to int, msg []byte) { queues[to] = append(queues[to], msg) }
	deliver := func(to int, msg []byte) {
		p := peers[to]
		switch Kind(msg[0]) {
		case KindUpdate:
			u, err := DecodeUpdate(msg)
			if err != nil {
				t.Fatal(err)
			}
			r, err := p.ch.Receive(u, now)
			if err != nil && !errors.Is(err, ErrStale) {
				t.Fatalf("seed %d: honest update refused: %v", seed, err)
			}
			if err == nil && !r.Duplicate {
				p.got += r.Direct
				for _, l := range r.Unlocked {
					p.got += l.Amount
				}
			}
			p.persist(t) // durable before acknowledged
			send(1-to, EncodeAck(mustAck(t, p.ch, p.signer)))
		case KindAck:
			ack, err := DecodeAck(msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.ch.HandleAck(ack); err != nil {
				t.Fatalf("seed %d: ack: %v", seed, err)
			}
			p.persist(t)
		}
	}
	for step := 0; step < steps; step++ {
		i := rng.IntN(2)
		p := peers[i]
		var u Update
		var err error
		signed := false
		switch op := rng.IntN(10); op {
		case 0, 1, 2:
			amount := 1 + rng.Uint64N(60)
			u, err = p.ch.Direct(amount, p.signer)
			if err == nil {
				p.sent += amount
				signed = true
			} else if !errors.Is(err, ErrOverspend) {
				t.Fatal(err)
			}
		case 3:
			var secret Hash
			binaryRand(rng, secret[:])
			h := crypto.Keccak256Hash(secret[:])
			u, err = p.ch.AddLock(Lock{Expiration: now + 1 + rng.Uint64N(40), Amount: 1 + rng.Uint64N(80), SecretHash: h}, RouteInfo{}, now, p.signer)
			if err == nil {
				p.secrets[h] = secret
				signed = true
			} else if !errors.Is(err, ErrOverspend) && !errors.Is(err, ErrInvalidLocks) {
				t.Fatal(err)
			}
		case 4:
			if len(p.ch.Own.Locks) > 0 {
				l := p.ch.Own.Locks[rng.IntN(len(p.ch.Own.Locks))]
				if now < l.Expiration {
					u, err = p.ch.Unlock(p.secrets[l.SecretHash], now, p.signer)
					if err != nil {
						t.Fatal(err)
					}
					p.sent += l.Amount
					signed = true
				} else {
					u, err = p.ch.RemoveExpired(l.SecretHash, now, p.signer)
					if err != nil {
						t.Fatal(err)
					}
					signed = true
				}
			}
		case 5:
			now += rng.Uint64N(5)
		case 6: // deliver in order, drop, or duplicate-deliver
			if q := queues[i]; len(q) > 0 {
				k := rng.IntN(len(q))
				msg := q[k]
				switch rng.IntN(4) {
				case 0: // dropped
				case 1: // duplicated: stays queued
					deliver(i, msg)
					continue
				default:
					deliver(i, msg)
				}
				queues[i] = append(q[:k:k], q[k+1:]...)
			}
		case 7: // resend the latest unacknowledged proof (a retry timer)
			if p.ch.Unacked() {
				send(1-i, EncodeUpdate(p.ch.Latest()))
			}
		case 8: // crash and restart: in-memory state is lost, the disk survives
			p.restart(t)
		case 9: // crash after signing but before the state reached the disk: nothing was sent
			if _, err := p.ch.Direct(1, p.signer); err == nil {
				p.restart(t)
			}
		}
		if signed {
			p.persist(t) // durable before it leaves the unit
			send(1-i, EncodeUpdate(u))
		}
		for _, q := range peers {
			if err := q.ch.CheckInvariant(); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
		}
		if a, b := peers[0].ch, peers[1].ch; b.Partner.Proof.Nonce > a.Own.Proof.Nonce || a.Partner.Proof.Nonce > b.Own.Proof.Nonce {
			t.Fatalf("seed %d step %d: a side holds a proof its signer does not", seed, step)
		}
	}
	// Drain: retry timers fire and links deliver until both are acknowledged.
	for round := 0; round < 10; round++ {
		for i, p := range peers {
			if p.ch.Unacked() {
				send(1-i, EncodeUpdate(p.ch.Latest()))
			}
		}
		for i := range queues {
			for len(queues[i]) > 0 {
				msg := queues[i][0]
				queues[i] = queues[i][1:]
				deliver(i, msg)
			}
		}
	}
	a, b = peers[0].ch, peers[1].ch
	if a.Own.Proof != b.Partner.Proof || b.Own.Proof != a.Partner.Proof || a.Unacked() || b.Unacked() {
		t.Fatalf("seed %d: sides did not converge: a own %d / b holds %d, b own %d / a holds %d",
			seed, a.Own.Proof.Nonce, b.Partner.Proof.Nonce, b.Own.Proof.Nonce, a.Partner.Proof.Nonce)
	}
	if a.Own.Proof.Transferred != peers[0].sent || b.Own.Proof.Transferred != peers[1].sent {
		t.Fatalf("seed %d: transferred %d/%d, meant %d/%d", seed, a.Own.Proof.Transferred, b.Own.Proof.Transferred, peers[0].sent, peers[1].sent)
	}
	if peers[1].got > peers[0].sent || peers[0].got > peers[1].sent {
		t.Fatalf("seed %d: a receiver counted more than was sent", seed)
	}
}

func binaryRand(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}
