package store

import (
	"crypto/rand"
	"crypto/sha256"
	"math/big"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomBase62 returns n characters drawn uniformly from base62.
func randomBase62(n int) string {
	out := make([]byte, n)
	max := big.NewInt(int64(len(base62)))
	for i := range out {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		out[i] = base62[v.Int64()]
	}
	return string(out)
}

func newID(prefix string) string { return prefix + randomBase62(12) }

// KeySecretPrefix starts every gateway key secret.
const KeySecretPrefix = "aigw_"

// keySecretChars base62 characters carry 43×log2(62) ≈ 256 bits.
const keySecretChars = 43

// NewKeySecret returns a fresh gateway key secret: "aigw_" + 43 base62
// characters (≥ 32 random bytes of entropy).
func NewKeySecret() string { return KeySecretPrefix + randomBase62(keySecretChars) }

// HashKey is how gateway key secrets are stored and looked up.
func HashKey(secret []byte) [sha256.Size]byte { return sha256.Sum256(secret) }

// preview shows a few characters of a secret so the operator can tell
// secrets apart without revealing them: "sk-…abcd".
func preview(secret string) string {
	const head, tail = 3, 4
	if len(secret) < 20 { // too short to show 7 characters of it
		if len(secret) >= 12 {
			return "…" + secret[len(secret)-2:]
		}
		return "…"
	}
	return secret[:head] + "…" + secret[len(secret)-tail:]
}

// keyPreview keeps the aigw_ prefix and the first characters of the secret.
func keyPreview(secret string) string {
	n := len(KeySecretPrefix) + 4
	if len(secret) <= n {
		return "…"
	}
	return secret[:n] + "…"
}
