package channel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/bits"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Address is a unit's account: the Ethereum address of its secp256k1 key.
type Address = common.Address

// Hash is a 32-byte Keccak-256 digest (channel ids, lock secret hashes, locks roots).
type Hash = common.Hash

// MessageType separates the kinds of signed statements so a signature on one kind can never be
// replayed as another. The settlement contract uses the same numbers.
type MessageType uint8

const (
	// TypeBalanceProof is a cumulative balance proof (transferred, locked, locksroot).
	TypeBalanceProof MessageType = 1
	// TypeWithdraw is a participant's total withdrawal while the channel stays open.
	TypeWithdraw MessageType = 2
	// TypeCooperativeSettle is both parties' agreement on final balances.
	TypeCooperativeSettle MessageType = 3
	// TypeAck is a participant's acknowledgement that it stored the partner's proofs up to a
	// nonce (off chain only: the contract accepts no statement of this type).
	TypeAck MessageType = 16
)

// domainTag is hashed into every signed digest so signatures made for FRACTALS channels cannot be
// confused with any other Ethereum signature. The contract holds the same constant.
var domainTag = crypto.Keccak256Hash([]byte("FRACTALS.ledger.v1"))

// DomainTag returns the constant that starts every signed digest (exported for the contract tests).
func DomainTag() Hash { return domainTag }

// Domain pins a signature to one chain, one settlement contract, one channel and one opening of it
// (the epoch grows each time the same two participants reopen a channel).
type Domain struct {
	ChainID   uint64
	Contract  Address
	ChannelID Hash
	Epoch     uint64
}

// Lock is a hash-locked amount: the receiver gets Amount if it reveals the preimage of SecretHash
// (on chain, before Expiration, a Unix time in seconds compared with block.timestamp).
type Lock struct {
	Expiration uint64
	Amount     uint64
	SecretHash Hash
}

// lockEncodedSize is the size of one lock in the locks-root preimage: three 32-byte words, exactly
// what Solidity's abi.encodePacked(uint256, uint256, bytes32) produces.
const lockEncodedSize = 96

// MaxLocks bounds the pending locks one side may hold in a channel; it keeps messages and on-chain
// unlock gas bounded.
const MaxLocks = 64

// Locksroot is Keccak-256 over the packed locks in order (Keccak-256 of nothing when there are none).
func Locksroot(locks []Lock) Hash {
	return crypto.Keccak256Hash(PackLocks(locks))
}

// sumLocks adds the lock amounts, refusing overflow.
func sumLocks(locks []Lock) (uint64, error) {
	var total uint64
	for i, l := range locks {
		var carry uint64
		total, carry = bits.Add64(total, l.Amount, 0)
		if carry != 0 {
			return 0, fmt.Errorf("lock %d: locked amounts overflow 64 bits", i)
		}
	}
	return total, nil
}

// BalanceProof is the latest cumulative state one participant has signed for its own direction:
// everything it has ever transferred to the partner, and what is still locked.
type BalanceProof struct {
	Domain      Domain
	Nonce       uint64
	Transferred uint64
	Locked      uint64
	Locksroot   Hash
	Signature   [65]byte
}

// Digest is what the participant signs: Keccak-256 of abi.encode(tag, chainid, contract, channel id,
// epoch, message type, nonce, transferred, locked, locksroot), every field one 32-byte word.
func (p *BalanceProof) Digest() Hash {
	buf := make([]byte, 0, 10*32)
	buf = append(buf, domainTag[:]...)
	buf = appendDomain(buf, p.Domain, TypeBalanceProof)
	buf = appendWord(buf, p.Nonce)
	buf = appendWord(buf, p.Transferred)
	buf = appendWord(buf, p.Locked)
	buf = append(buf, p.Locksroot[:]...)
	return crypto.Keccak256Hash(buf)
}

func appendDomain(buf []byte, d Domain, t MessageType) []byte {
	buf = appendWord(buf, d.ChainID)
	buf = appendAddress(buf, d.Contract)
	buf = append(buf, d.ChannelID[:]...)
	buf = appendWord(buf, d.Epoch)
	return appendWord(buf, uint64(t))
}

// appendWord appends v as a big-endian 32-byte word (Solidity's uint256 encoding).
func appendWord(buf []byte, v uint64) []byte {
	var w [32]byte
	binary.BigEndian.PutUint64(w[24:], v)
	return append(buf, w[:]...)
}

// Signer signs digests with a unit's key. Signing is deterministic (RFC 6979), so the state
// machine stays a pure function of its inputs.
type Signer interface {
	Address() Address
	Sign(digest Hash) ([65]byte, error)
}

// ErrBadSignature means a signature is malformed or was not made by the expected participant.
var ErrBadSignature = errors.New("bad signature")

// Recover returns the address that signed digest. It refuses high-s (malleable) signatures, like
// the contract does.
func Recover(digest Hash, sig [65]byte) (Address, error) {
	v := sig[64]
	if v >= 27 {
		v -= 27
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:64])
	if !crypto.ValidateSignatureValues(v, r, s, true) {
		return Address{}, fmt.Errorf("%w: invalid r, s or v", ErrBadSignature)
	}
	norm := sig
	norm[64] = v
	pub, err := crypto.SigToPub(digest[:], norm[:])
	if err != nil {
		return Address{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return crypto.PubkeyToAddress(*pub), nil
}

// WithdrawDigest is what both participants sign to let who withdraw up to total (cumulative)
// while the channel stays open, valid until expiry (Unix seconds).
func WithdrawDigest(d Domain, who Address, total, expiry uint64) Hash {
	buf := append([]byte(nil), domainTag[:]...)
	buf = appendDomain(buf, d, TypeWithdraw)
	buf = appendAddress(buf, who)
	buf = appendWord(buf, total)
	buf = appendWord(buf, expiry)
	return crypto.Keccak256Hash(buf)
}

// AckDigest is what a participant signs to acknowledge the partner's proofs up to nonce.
func AckDigest(d Domain, nonce uint64) Hash {
	buf := append(make([]byte, 0, 32*7), domainTag[:]...)
	buf = appendDomain(buf, d, TypeAck)
	buf = appendWord(buf, nonce)
	return crypto.Keccak256Hash(buf)
}

// CooperativeSettleDigest is what both participants sign to settle at once; a is the participant
// with the lower address, as the contract orders them.
func CooperativeSettleDigest(d Domain, a Address, amountA uint64, b Address, amountB uint64) Hash {
	buf := append([]byte(nil), domainTag[:]...)
	buf = appendDomain(buf, d, TypeCooperativeSettle)
	buf = appendAddress(buf, a)
	buf = appendWord(buf, amountA)
	buf = appendAddress(buf, b)
	buf = appendWord(buf, amountB)
	return crypto.Keccak256Hash(buf)
}

// TypeDelegateUpdate authorises anyone (a watchtower) to submit the given proof of the partner
// after the partner closed the channel.
const TypeDelegateUpdate MessageType = 4

// DelegateDigest is what the non-closing participant signs so a delegate may submit proofDigest.
func DelegateDigest(d Domain, proofDigest Hash) Hash {
	buf := append([]byte(nil), domainTag[:]...)
	buf = appendDomain(buf, d, TypeDelegateUpdate)
	buf = append(buf, proofDigest[:]...)
	return crypto.Keccak256Hash(buf)
}

func appendAddress(buf []byte, a Address) []byte {
	var w [32]byte
	copy(w[12:], a[:])
	return append(buf, w[:]...)
}

// PackLocks is the locks-root preimage, which the contract's unlock takes.
func PackLocks(locks []Lock) []byte {
	buf := make([]byte, 0, len(locks)*lockEncodedSize)
	for _, l := range locks {
		buf = appendWord(buf, l.Expiration)
		buf = appendWord(buf, l.Amount)
		buf = append(buf, l.SecretHash[:]...)
	}
	return buf
}
