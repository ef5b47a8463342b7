package transport

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fractals-energy/fractals/ledger/channel"
)

// The TCP hello authenticates both ends of a connection before any frame flows, so the `from`
// handed to the Handler is the address whose secp256k1 key the sender holds:
//
//	dialler  -> listener  offer:  magic | dialler address | dialler challenge (32 random bytes)
//	listener -> dialler   answer: magic | listener address | listener challenge | listener signature
//	dialler  -> listener  proof:  dialler signature
//
// Each signature is over helloDigest(role, the other side's challenge, dialler, listener): the
// challenge is fresh per connection, so a recorded hello does not pass on another connection; both
// addresses bind it to this pair; the role keeps a listener's signature from being reflected back
// as a dialler's.

// Signer is the unit's secp256k1 key (channel.KeySigner is one); the transport proves it holds it.
type Signer interface {
	Address() common.Address
	Sign(digest common.Hash) ([65]byte, error)
}

// ErrHelloRefused wraps every failed hello; the connection is closed.
var ErrHelloRefused = errors.New("tcp transport: hello refused")

var helloMagic = [4]byte{'F', 'L', 'G', '2'}

var helloTag = crypto.Keccak256Hash([]byte("FRACTALS.ledger.transport.hello.v1"))

type helloRole byte

const (
	roleListener helloRole = 1
	roleDialler  helloRole = 2
)

// Sizes of the three hello messages.
const (
	challengeLen = 32
	offerLen     = 4 + common.AddressLength + challengeLen
	answerLen    = offerLen + 65
	proofLen     = 65
)

type challenge [challengeLen]byte

// helloOffer opens a connection: who the dialler claims to be and what the listener must sign.
type helloOffer struct {
	Dialler   common.Address
	Challenge challenge
}

// helloAnswer is the listener's identity, its proof over the dialler's challenge, and its own
// challenge for the dialler.
type helloAnswer struct {
	Listener  common.Address
	Challenge challenge
	Sig       [65]byte
}

func helloDigest(role helloRole, c challenge, dialler, listener common.Address) common.Hash {
	buf := make([]byte, 0, 32+1+challengeLen+2*common.AddressLength)
	buf = append(buf, helloTag[:]...)
	buf = append(buf, byte(role))
	buf = append(buf, c[:]...)
	buf = append(buf, dialler[:]...)
	buf = append(buf, listener[:]...)
	return crypto.Keccak256Hash(buf)
}

func freshChallenge() (challenge, error) {
	var c challenge
	if _, err := rand.Read(c[:]); err != nil {
		return c, fmt.Errorf("tcp transport: hello challenge: %w", err)
	}
	return c, nil
}

func (o helloOffer) encode() []byte {
	buf := make([]byte, 0, offerLen)
	buf = append(buf, helloMagic[:]...)
	buf = append(buf, o.Dialler[:]...)
	return append(buf, o.Challenge[:]...)
}

func (a helloAnswer) encode() []byte {
	buf := make([]byte, 0, answerLen)
	buf = append(buf, helloMagic[:]...)
	buf = append(buf, a.Listener[:]...)
	buf = append(buf, a.Challenge[:]...)
	return append(buf, a.Sig[:]...)
}

// decodeOffer reads an offer of exactly offerLen bytes.
func decodeOffer(b []byte) (helloOffer, error) {
	var o helloOffer
	if len(b) != offerLen {
		return o, fmt.Errorf("%w: offer of %d bytes, want %d", ErrHelloRefused, len(b), offerLen)
	}
	if [4]byte(b[:4]) != helloMagic {
		return o, fmt.Errorf("%w: offer magic %x, want %x", ErrHelloRefused, b[:4], helloMagic)
	}
	o.Dialler = common.BytesToAddress(b[4 : 4+common.AddressLength])
	copy(o.Challenge[:], b[4+common.AddressLength:])
	return o, nil
}

// decodeAnswer reads an answer of exactly answerLen bytes.
func decodeAnswer(b []byte) (helloAnswer, error) {
	var a helloAnswer
	if len(b) != answerLen {
		return a, fmt.Errorf("%w: answer of %d bytes, want %d", ErrHelloRefused, len(b), answerLen)
	}
	if [4]byte(b[:4]) != helloMagic {
		return a, fmt.Errorf("%w: answer magic %x, want %x", ErrHelloRefused, b[:4], helloMagic)
	}
	a.Listener = common.BytesToAddress(b[4 : 4+common.AddressLength])
	copy(a.Challenge[:], b[4+common.AddressLength:offerLen])
	copy(a.Sig[:], b[offerLen:])
	return a, nil
}

// checkSigned refuses sig unless claimed made it over the digest for role.
func checkSigned(role helloRole, c challenge, dialler, listener, claimed common.Address, sig [65]byte) error {
	who := "listener"
	if role == roleDialler {
		who = "dialler"
	}
	signer, err := channel.Recover(helloDigest(role, c, dialler, listener), sig)
	if err != nil {
		return fmt.Errorf("%w: %s %s: bad signature: %v", ErrHelloRefused, who, claimed, err)
	}
	if signer != claimed {
		return fmt.Errorf("%w: %s claims %s but signed as %s", ErrHelloRefused, who, claimed, signer)
	}
	return nil
}

// dialHello runs the dialler's side on rw: it proves to be self and accepts only the listener
// want. It returns once the proof is sent; frames may follow.
func dialHello(rw io.ReadWriter, self Signer, want common.Address) error {
	mine, err := freshChallenge()
	if err != nil {
		return err
	}
	if _, err := rw.Write(helloOffer{Dialler: self.Address(), Challenge: mine}.encode()); err != nil {
		return fmt.Errorf("tcp transport: hello offer to %s: %w", want, err)
	}
	buf := make([]byte, answerLen)
	if _, err := io.ReadFull(rw, buf); err != nil {
		return fmt.Errorf("%w: answer from %s: %v", ErrHelloRefused, want, err)
	}
	ans, err := decodeAnswer(buf)
	if err != nil {
		return err
	}
	if ans.Listener != want {
		return fmt.Errorf("%w: listener is %s, want %s", ErrHelloRefused, ans.Listener, want)
	}
	if err := checkSigned(roleListener, mine, self.Address(), want, want, ans.Sig); err != nil {
		return err
	}
	sig, err := self.Sign(helloDigest(roleDialler, ans.Challenge, self.Address(), want))
	if err != nil {
		return fmt.Errorf("tcp transport: hello proof: %w", err)
	}
	if _, err := rw.Write(sig[:]); err != nil {
		return fmt.Errorf("tcp transport: hello proof to %s: %w", want, err)
	}
	return nil
}

// acceptHello runs the listener's side on rw and returns the dialler's authenticated address.
func acceptHello(rw io.ReadWriter, self Signer) (common.Address, error) {
	buf := make([]byte, offerLen)
	if _, err := io.ReadFull(rw, buf); err != nil {
		return common.Address{}, fmt.Errorf("%w: offer: %v", ErrHelloRefused, err)
	}
	offer, err := decodeOffer(buf)
	if err != nil {
		return common.Address{}, err
	}
	mine, err := freshChallenge()
	if err != nil {
		return common.Address{}, err
	}
	sig, err := self.Sign(helloDigest(roleListener, offer.Challenge, offer.Dialler, self.Address()))
	if err != nil {
		return common.Address{}, fmt.Errorf("tcp transport: hello answer: %w", err)
	}
	if _, err := rw.Write(helloAnswer{Listener: self.Address(), Challenge: mine, Sig: sig}.encode()); err != nil {
		return common.Address{}, fmt.Errorf("tcp transport: hello answer to %s: %w", offer.Dialler, err)
	}
	var proof [proofLen]byte
	if _, err := io.ReadFull(rw, proof[:]); err != nil {
		return common.Address{}, fmt.Errorf("%w: proof from %s: %v", ErrHelloRefused, offer.Dialler, err)
	}
	if err := checkSigned(roleDialler, mine, offer.Dialler, self.Address(), offer.Dialler, proof); err != nil {
		return common.Address{}, err
	}
	return offer.Dialler, nil
}
