package firmware

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/crypto"
)

// LoadOrCreateKey returns the unit's secp256k1 key: its devp2p identity, the author of its mesh
// envelopes and the signer of its ledger payments. The key is kept at path as hex, created with mode
// 0600 (and its directory 0700) when absent; a key file readable by others is refused. With an empty
// path the key lives only in memory, so a unit with no configuration needs nothing on disk.
func LoadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	if path == "" {
		return crypto.GenerateKey()
	}
	if info, err := os.Stat(path); err == nil {
		if info.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("identity: %s has mode %v: the unit key must be readable by its owner only (chmod 600)", path, info.Mode().Perm())
		}
		key, err := crypto.LoadECDSA(path)
		if err != nil {
			return nil, fmt.Errorf("identity: %s: %w", path, err)
		}
		return key, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("identity: %w", err)
	}
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("identity: generating a key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	// Write to a temporary file and rename, so a crash never leaves half a key behind.
	tmp := path + ".tmp"
	if err := crypto.SaveECDSA(tmp, key); err != nil { // SaveECDSA creates the file 0600
		return nil, fmt.Errorf("identity: writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return key, nil
}
