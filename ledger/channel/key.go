package channel

import (
	"crypto/ecdsa"
	"fmt"

	"github.com/ethereum/go-ethereum/crypto"
)

// KeySigner signs with an in-memory secp256k1 key.
type KeySigner struct {
	key  *ecdsa.PrivateKey
	addr Address
}

// NewKeySigner wraps a private key.
func NewKeySigner(key *ecdsa.PrivateKey) *KeySigner {
	return &KeySigner{key: key, addr: crypto.PubkeyToAddress(key.PublicKey)}
}

// Address is the signer's account.
func (s *KeySigner) Address() Address { return s.addr }

// Key exposes the private key for the chain adapter (transactions are signed with the same key).
func (s *KeySigner) Key() *ecdsa.PrivateKey { return s.key }

// Sign signs a 32-byte digest; the recovery byte is 0 or 1.
func (s *KeySigner) Sign(digest Hash) ([65]byte, error) {
	var out [65]byte
	sig, err := crypto.Sign(digest[:], s.key)
	if err != nil {
		return out, fmt.Errorf("sign: %w", err)
	}
	copy(out[:], sig)
	return out, nil
}
