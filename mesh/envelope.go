package mesh

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// Envelope is one authored message as it travels the mesh, on devp2p and in memory alike. Everything
// but Hops is covered by the author's signature, so a relayed message stays verifiable; Hops is
// rewritten by every relay and only bounds how far gossip spreads.
type Envelope struct {
	Code      Code
	Author    Address
	To        Address // the zero address for a broadcast
	Community string
	Seq       uint64 // per (author, To) stream, strictly increasing
	ExpiryMs  uint64 // Unix milliseconds after which nobody delivers or relays it
	Payload   []byte
	Hops      uint8
	Sig       []byte // 65 bytes [R || S || V] over SigningHash
}

// Limits of the envelope's own fields, independent of the payload cap of its code.
const (
	MaxCommunityLen  = 64
	envelopeOverhead = 256 // RLP framing, addresses, numbers and the signature, rounded up
)

// domainTag separates mesh signatures from every other signature the unit key makes (ledger balance
// proofs, chain transactions), so no signed envelope can be replayed as one of those.
var domainTag = crypto.Keccak256([]byte("FRACTALS.mesh.v1"))

// signedFields is the part of an envelope the signature covers, in a fixed order.
type signedFields struct {
	Code      uint8
	Author    Address
	To        Address
	Community string
	Seq       uint64
	ExpiryMs  uint64
	Payload   []byte
}

// SigningHash is the Keccak-256 hash the author signs.
func (e *Envelope) SigningHash() []byte {
	body, err := rlp.EncodeToBytes(signedFields{uint8(e.Code), e.Author, e.To, e.Community, e.Seq, e.ExpiryMs, e.Payload})
	if err != nil { // only unsupported types fail to encode, and these are all supported
		panic(fmt.Sprintf("mesh: encoding signed fields: %v", err))
	}
	return crypto.Keccak256(domainTag, body)
}

// Sign sets Author from key and signs the envelope.
func (e *Envelope) Sign(key *ecdsa.PrivateKey) error {
	e.Author = crypto.PubkeyToAddress(key.PublicKey)
	sig, err := crypto.Sign(e.SigningHash(), key)
	if err != nil {
		return fmt.Errorf("mesh: signing envelope seq %d: %w", e.Seq, err)
	}
	e.Sig = sig
	return nil
}

// Errors of envelope checks, wrapped with what and where.
var (
	ErrBadSignature = errors.New("mesh: bad signature")
	ErrMalformed    = errors.New("mesh: malformed envelope")
)

// Verify checks that the signature is a canonical (low-s) secp256k1 signature by Author.
func (e *Envelope) Verify() error {
	if len(e.Sig) != crypto.SignatureLength {
		return fmt.Errorf("%w: %d signature bytes from %s seq %d, want %d", ErrBadSignature, len(e.Sig), e.Author, e.Seq, crypto.SignatureLength)
	}
	r, s, v := new(bigInt).SetBytes(e.Sig[:32]), new(bigInt).SetBytes(e.Sig[32:64]), e.Sig[64]
	if !crypto.ValidateSignatureValues(v, r, s, true) {
		return fmt.Errorf("%w: non-canonical signature values from %s seq %d", ErrBadSignature, e.Author, e.Seq)
	}
	pub, err := crypto.SigToPub(e.SigningHash(), e.Sig)
	if err != nil {
		return fmt.Errorf("%w: from %s seq %d: %v", ErrBadSignature, e.Author, e.Seq, err)
	}
	if got := crypto.PubkeyToAddress(*pub); got != e.Author {
		return fmt.Errorf("%w: envelope claims author %s but %s signed seq %d", ErrBadSignature, e.Author, got, e.Seq)
	}
	return nil
}

// Expired reports whether the envelope's expiry is at or before now.
func (e *Envelope) Expired(now time.Time) bool {
	return uint64(now.UnixMilli()) >= e.ExpiryMs
}

// wireEnvelope is the RLP layout on the wire.
type wireEnvelope struct {
	Code      uint8
	Author    Address
	To        Address
	Community string
	Seq       uint64
	ExpiryMs  uint64
	Payload   []byte
	Hops      uint8
	Sig       []byte
}

// Encode returns the envelope's wire form.
func (e *Envelope) Encode() []byte {
	b, err := rlp.EncodeToBytes(wireEnvelope{uint8(e.Code), e.Author, e.To, e.Community, e.Seq, e.ExpiryMs, e.Payload, e.Hops, e.Sig})
	if err != nil {
		panic(fmt.Sprintf("mesh: encoding envelope: %v", err))
	}
	return b
}

// DecodeEnvelope parses a wire envelope and checks its shape (known code, payload within the code's
// cap, community and signature lengths). It does not verify the signature: see Verify.
func DecodeEnvelope(b []byte) (*Envelope, error) {
	if len(b) > MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: %d bytes, larger than any code allows (%d)", ErrTooLarge, len(b), MaxEnvelopeSize)
	}
	var w wireEnvelope
	if err := rlp.DecodeBytes(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %d bytes: %v", ErrMalformed, len(b), err)
	}
	e := &Envelope{Code(w.Code), w.Author, w.To, w.Community, w.Seq, w.ExpiryMs, w.Payload, w.Hops, w.Sig}
	limit, ok := PayloadCap(e.Code)
	if !ok {
		return nil, fmt.Errorf("%w: 0x%02x from %s seq %d", ErrUnknownCode, w.Code, e.Author, e.Seq)
	}
	if len(e.Payload) > limit {
		return nil, fmt.Errorf("%w: code 0x%02x payload %d bytes, cap %d", ErrTooLarge, w.Code, len(e.Payload), limit)
	}
	if len(e.Community) > MaxCommunityLen {
		return nil, fmt.Errorf("%w: community id %d bytes, at most %d", ErrMalformed, len(e.Community), MaxCommunityLen)
	}
	if len(e.Sig) != crypto.SignatureLength {
		return nil, fmt.Errorf("%w: signature %d bytes, want %d", ErrMalformed, len(e.Sig), crypto.SignatureLength)
	}
	return e, nil
}
