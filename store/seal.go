package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// MasterKeySize is the length of the key that seals credential secrets.
const MasterKeySize = 32

// sealer encrypts secrets with AES-256-GCM. The record id is the additional
// data, so a sealed value copied onto another record does not open.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("master key must be %d bytes, got %d", MasterKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(plaintext, id string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return s.aead.Seal(nonce, nonce, []byte(plaintext), []byte(id))
}

var errUnseal = errors.New("sealed value does not open: wrong master key or damaged record")

func (s *sealer) open(sealed []byte, id string) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	ns := s.aead.NonceSize()
	if len(sealed) < ns {
		return "", errUnseal
	}
	pt, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(id))
	if err != nil {
		return "", errUnseal
	}
	return string(pt), nil
}
