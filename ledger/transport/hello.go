package transport

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/ledger/channel"
)

// The TCP hello authenticates both ends of a connection and agrees on a session key before any
// frame flows, so the `from` handed to the Handler is the address whose secp256k1 key the sender
// holds and every frame is bound to that session:
//
//	dialler  -> listener  offer:     magic | dialler address | dialler ephemeral X25519 key
//	listener -> dialler   challenge: magic | listener address | listener ephemeral X25519 key
//	dialler  -> listener  proof:     dialler signature over the transcript (offer | challenge)
//	listener -> dialler   answer:    listener signature over the transcript
//
// The listener answers an offer only from a configured partner (anyone else is cut after 56
// bytes, before any cryptography) and signs only after the dialler's proof verified, so a
// stranger can make the listener sign nothing. The ephemeral keys are fresh per connection and
// both sit in the signed transcript: a recorded hello does not pass again, and a relay in the
// middle cannot swap a key without breaking a signature. The session key comes from the X25519
// exchange of the two ephemeral keys, so a relay that passes the hello along does not learn it
// and cannot add frames of its own (session.go). The role byte keeps a listener's signature from
// being reflected back as a dialler's.

// Signer is the unit's secp256k1 key (channel.KeySigner is one); the transport proves it holds it.
type Signer interface {
	Address() common.Address
	Sign(digest common.Hash) ([65]byte, error)
}

// ErrHelloRefused wraps every failed hello; the connection is closed.
var ErrHelloRefused = errors.New("tcp transport: hello refused")

var helloMagic = [4]byte{'F', 'L', 'G', '3'}

var helloTag = crypto.Keccak256Hash([]byte("FRACTALS.ledger.transport.hello.v3"))

type helloRole byte

const (
	roleListener helloRole = 1
	roleDialler  helloRole = 2
)

// Sizes of the hello messages.
const (
	ephemeralLen = 32
	offerLen     = 4 + common.AddressLength + ephemeralLen
	challengeLen = offerLen
	proofLen     = 65
	answerLen    = 65
)

// helloGreeting is the first message of each side: who it is and its ephemeral key (offer from
// the dialler, challenge from the listener: the same layout).
type helloGreeting struct {
	Addr      common.Address
	Ephemeral [ephemeralLen]byte
}

func (g helloGreeting) encode() []byte {
	buf := make([]byte, 0, offerLen)
	buf = append(buf, helloMagic[:]...)
	buf = append(buf, g.Addr[:]...)
	return append(buf, g.Ephemeral[:]...)
}

// decodeGreeting reads an offer or challenge of exactly offerLen bytes; what names the message in
// errors.
func decodeGreeting(what string, b []byte) (helloGreeting, error) {
	var g helloGreeting
	if len(b) != offerLen {
		return g, fmt.Errorf("%w: %s of %d bytes, want %d", ErrHelloRefused, what, len(b), offerLen)
	}
	if [4]byte(b[:4]) != helloMagic {
		return g, fmt.Errorf("%w: %s magic %x, want %x", ErrHelloRefused, what, b[:4], helloMagic)
	}
	g.Addr = common.BytesToAddress(b[4 : 4+common.AddressLength])
	copy(g.Ephemeral[:], b[4+common.AddressLength:])
	return g, nil
}

// transcript is what both signatures cover: the two greetings as sent.
type transcript struct {
	offer, challenge helloGreeting
}

func (tr transcript) digest(role helloRole) common.Hash {
	buf := make([]byte, 0, 32+1+2*offerLen)
	buf = append(buf, helloTag[:]...)
	buf = append(buf, byte(role))
	buf = append(buf, tr.offer.encode()...)
	buf = append(buf, tr.challenge.encode()...)
	return crypto.Keccak256Hash(buf)
}

// sessionKey derives the frame key from the X25519 secret of the two ephemeral keys and the
// transcript, so it is unique to this connection.
func (tr transcript) sessionKey(mine *ecdh.PrivateKey, theirs [ephemeralLen]byte) ([32]byte, error) {
	pub, err := ecdh.X25519().NewPublicKey(theirs[:])
	if err != nil {
		return [32]byte{}, fmt.Errorf("%w: ephemeral key: %v", ErrHelloRefused, err)
	}
	secret, err := mine.ECDH(pub)
	if err != nil {
		return [32]byte{}, fmt.Errorf("%w: key exchange: %v", ErrHelloRefused, err)
	}
	h := sha256.New()
	h.Write(helloTag[:])
	h.Write(secret)
	h.Write(tr.offer.encode())
	h.Write(tr.challenge.encode())
	var key [32]byte
	copy(key[:], h.Sum(nil))
	return key, nil
}

func freshEphemeral() (*ecdh.PrivateKey, [ephemeralLen]byte, error) {
	var pub [ephemeralLen]byte
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, pub, fmt.Errorf("tcp transport: hello ephemeral key: %w", err)
	}
	copy(pub[:], k.PublicKey().Bytes())
	return k, pub, nil
}

// checkSigned refuses sig unless claimed made it over the transcript's digest for role.
func checkSigned(tr transcript, role helloRole, claimed common.Address, sig [65]byte) error {
	who := "listener"
	if role == roleDialler {
		who = "dialler"
	}
	signer, err := channel.Recover(tr.digest(role), sig)
	if err != nil {
		return fmt.Errorf("%w: %s %s: bad signature: %v", ErrHelloRefused, who, claimed, err)
	}
	if signer != claimed {
		return fmt.Errorf("%w: %s claims %s but signed as %s", ErrHelloRefused, who, claimed, signer)
	}
	return nil
}

// dialHello runs the dialler's side on rw: it proves to be self and accepts only the listener
// want. It returns the session once the listener's answer verified; frames may follow.
func dialHello(rw io.ReadWriter, self Signer, want common.Address) (*session, error) {
	eph, pub, err := freshEphemeral()
	if err != nil {
		return nil, err
	}
	tr := transcript{offer: helloGreeting{Addr: self.Address(), Ephemeral: pub}}
	if _, err := rw.Write(tr.offer.encode()); err != nil {
		return nil, fmt.Errorf("tcp transport: hello offer to %s: %w", want, err)
	}
	buf := make([]byte, challengeLen)
	if _, err := io.ReadFull(rw, buf); err != nil {
		return nil, fmt.Errorf("%w: challenge from %s: %v", ErrHelloRefused, want, err)
	}
	if tr.challenge, err = decodeGreeting("challenge", buf); err != nil {
		return nil, err
	}
	if tr.challenge.Addr != want {
		return nil, fmt.Errorf("%w: listener is %s, want %s", ErrHelloRefused, tr.challenge.Addr, want)
	}
	key, err := tr.sessionKey(eph, tr.challenge.Ephemeral)
	if err != nil {
		return nil, err
	}
	sig, err := self.Sign(tr.digest(roleDialler))
	if err != nil {
		return nil, fmt.Errorf("tcp transport: hello proof: %w", err)
	}
	if _, err := rw.Write(sig[:]); err != nil {
		return nil, fmt.Errorf("tcp transport: hello proof to %s: %w", want, err)
	}
	var answer [answerLen]byte
	if _, err := io.ReadFull(rw, answer[:]); err != nil {
		return nil, fmt.Errorf("%w: answer from %s: %v", ErrHelloRefused, want, err)
	}
	if err := checkSigned(tr, roleListener, want, answer); err != nil {
		return nil, err
	}
	return newSession(key), nil
}

// acceptHello runs the listener's side on rw and returns the dialler's authenticated address and
// the session. Only a dialler for which partner is true gets a challenge; nothing is signed
// before its proof verified.
func acceptHello(rw io.ReadWriter, self Signer, partner func(common.Address) bool) (common.Address, *session, error) {
	buf := make([]byte, offerLen)
	if _, err := io.ReadFull(rw, buf); err != nil {
		return common.Address{}, nil, fmt.Errorf("%w: offer: %v", ErrHelloRefused, err)
	}
	offer, err := decodeGreeting("offer", buf)
	if err != nil {
		return common.Address{}, nil, err
	}
	if !partner(offer.Addr) {
		return common.Address{}, nil, fmt.Errorf("%w: %s is not a configured partner", ErrHelloRefused, offer.Addr)
	}
	eph, pub, err := freshEphemeral()
	if err != nil {
		return common.Address{}, nil, err
	}
	tr := transcript{offer: offer, challenge: helloGreeting{Addr: self.Address(), Ephemeral: pub}}
	key, err := tr.sessionKey(eph, offer.Ephemeral)
	if err != nil {
		return common.Address{}, nil, err
	}
	if _, err := rw.Write(tr.challenge.encode()); err != nil {
		return common.Address{}, nil, fmt.Errorf("tcp transport: hello challenge to %s: %w", offer.Addr, err)
	}
	var proof [proofLen]byte
	if _, err := io.ReadFull(rw, proof[:]); err != nil {
		return common.Address{}, nil, fmt.Errorf("%w: proof from %s: %v", ErrHelloRefused, offer.Addr, err)
	}
	if err := checkSigned(tr, roleDialler, offer.Addr, proof); err != nil {
		return common.Address{}, nil, err
	}
	sig, err := self.Sign(tr.digest(roleListener))
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("tcp transport: hello answer: %w", err)
	}
	if _, err := rw.Write(sig[:]); err != nil {
		return common.Address{}, nil, fmt.Errorf("tcp transport: hello answer to %s: %w", offer.Addr, err)
	}
	return offer.Addr, newSession(key), nil
}
