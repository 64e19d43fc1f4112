package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Keyring seals values for storage with AES-256-GCM, for what must not be
// readable at rest (upstream tokens). Sealing uses the first key; opening
// tries the key the sealed value names, so keys rotate by putting a new
// key first and keeping the old ones until what they sealed has expired.
type Keyring struct {
	keys []sealKey
}

type sealKey struct {
	id   [4]byte // first bytes of the key's SHA-256, stored with each value
	aead cipher.AEAD
}

// ErrSealed is returned by [Keyring.Open] for a value that no key of the
// ring opens: tampered with, bound to other data, or sealed by a retired key.
var ErrSealed = errors.New("store: sealed value cannot be opened")

// NewKeyring returns a Keyring sealing with keys[0]; each key is 32 bytes.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("store: a keyring needs at least one key")
	}
	kr := &Keyring{}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("store: key %d is %d bytes, want 32 (AES-256)", i, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(k)
		var id [4]byte
		copy(id[:], sum[:4])
		kr.keys = append(kr.keys, sealKey{id: id, aead: aead})
	}
	return kr, nil
}

// Seal encrypts plaintext bound to context (for example the store key, so
// a value cannot be moved to another key): key id, nonce, ciphertext.
func (kr *Keyring) Seal(plaintext, context []byte) []byte {
	k := kr.keys[0]
	out := make([]byte, 4, 4+k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	copy(out, k.id[:])
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plaintext, context)
}

// Open decrypts what Seal produced with the same context.
func (kr *Keyring) Open(sealed, context []byte) ([]byte, error) {
	for _, k := range kr.keys {
		n := k.aead.NonceSize()
		if len(sealed) < 4+n+k.aead.Overhead() || [4]byte(sealed[:4]) != k.id {
			continue
		}
		pt, err := k.aead.Open(nil, sealed[4:4+n], sealed[4+n:], context)
		if err != nil {
			return nil, ErrSealed
		}
		return pt, nil
	}
	return nil, ErrSealed
}
