package store

import (
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aigw/aigw/internal/units"
	bolt "go.etcd.io/bbolt"
)

// Key statuses, derived when a key is read.
const (
	KeyActive  = "active"
	KeyRevoked = "revoked"
	KeyExpired = "expired"
)

// Limits bound what one gateway key may use; 0 means no limit.
type Limits struct {
	RPM            int64   `json:"rpm"`             // requests per minute
	TPM            int64   `json:"tpm"`             // tokens per minute
	DailyTokens    int64   `json:"daily_tokens"`    // tokens per UTC day
	DailyCost      float64 `json:"daily_cost"`      // USD per UTC day
	MaxConcurrency int64   `json:"max_concurrency"` // requests in flight
	// Budgets (budgets in the README): a calendar month in the configured
	// budgets.timezone (UTC by default), and the key's whole life.
	MonthlyCost   float64 `json:"monthly_cost,omitempty"`   // USD per calendar month
	MonthlyTokens int64   `json:"monthly_tokens,omitempty"` // tokens per calendar month
	TotalCost     float64 `json:"total_cost,omitempty"`     // USD over the key's life
	// Unpriced decides whether a key with a cost budget may use a model
	// without a price (its cost is unknown): UnpricedAllow ("", the
	// default) or UnpricedDeny (refused with 403 before the upstream).
	Unpriced string `json:"unpriced,omitempty"`
}

// Key.Unpriced values.
const (
	UnpricedAllow = "allow"
	UnpricedDeny  = "deny"
)

// HasCostBudget reports whether the key has a monthly or total cost budget.
func (l *Limits) HasCostBudget() bool { return l.MonthlyCost > 0 || l.TotalCost > 0 }

// Key is a gateway key: what a client application presents. Only the
// SHA-256 of its secret is stored; the secret is shown once, at creation.
type Key struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Provider    string   `json:"provider"`
	Preview     string   `json:"preview"`
	Credentials []string `json:"credentials"`
	Strategy    string   `json:"strategy"`
	// Models are the models the key may ask for: exact names and * globs
	// (see ValidModels); empty, and absent in older records: every model.
	Models []string `json:"models"`
	Limits
	Timeout    units.Duration `json:"timeout"`     // 0: inherit from provider / config
	MaxRetries *int           `json:"max_retries"` // nil: the configured default
	ExpiresAt  *time.Time     `json:"expires_at"`
	RevokedAt  *time.Time     `json:"revoked_at"`
	Status     string         `json:"status"` // derived: active, revoked, expired
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`

	Hash [32]byte `json:"-"` // SHA-256 of the secret
}

// KeyInput creates a key.
type KeyInput struct {
	Provider    string   `json:"provider"`
	Credentials []string `json:"credentials"`
	Name        string   `json:"name"`
	Strategy    string   `json:"strategy"` // default DefaultStrategy
	Models      []string `json:"models,omitempty"`
	Limits
	Timeout    units.Duration `json:"timeout"`
	MaxRetries *int           `json:"max_retries,omitempty"`
	ExpiresAt  *time.Time     `json:"expires_at,omitempty"`
}

// KeyPatch changes the fields that are not nil.
type KeyPatch struct {
	Name           *string         `json:"name,omitempty"`
	Credentials    *[]string       `json:"credentials,omitempty"`
	Strategy       *string         `json:"strategy,omitempty"`
	Models         *[]string       `json:"models,omitempty"` // empty: every model
	RPM            *int64          `json:"rpm,omitempty"`
	TPM            *int64          `json:"tpm,omitempty"`
	DailyTokens    *int64          `json:"daily_tokens,omitempty"`
	DailyCost      *float64        `json:"daily_cost,omitempty"`
	MaxConcurrency *int64          `json:"max_concurrency,omitempty"`
	MonthlyCost    *float64        `json:"monthly_cost,omitempty"`
	MonthlyTokens  *int64          `json:"monthly_tokens,omitempty"`
	TotalCost      *float64        `json:"total_cost,omitempty"`
	Unpriced       *string         `json:"unpriced,omitempty"`
	Timeout        *units.Duration `json:"timeout,omitempty"`
	MaxRetries     *int            `json:"max_retries,omitempty"`
	ExpiresAt      *time.Time      `json:"expires_at,omitempty"`
	NoExpiry       bool            `json:"no_expiry,omitempty"` // clear expires_at
}

type keyRecord struct {
	Key
	HashHex string `json:"hash"`
}

// MaxPoolSize caps the credentials of one key (the scheduler tracks tried ones in a bitmask).
const MaxPoolSize = 64

// MaxRetriesLimit caps a key's retry budget.
const MaxRetriesLimit = 10

func (l *Limits) validate() error {
	for _, f := range []struct {
		name string
		v    int64
	}{{"rpm", l.RPM}, {"tpm", l.TPM}, {"daily_tokens", l.DailyTokens}, {"max_concurrency", l.MaxConcurrency},
		{"monthly_tokens", l.MonthlyTokens}} {
		if err := validLimit(f.name, f.v); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"daily_cost", l.DailyCost}, {"monthly_cost", l.MonthlyCost}, {"total_cost", l.TotalCost}} {
		if err := ValidUSD(f.name, f.v); err != nil {
			return err
		}
	}
	if l.Unpriced != "" && l.Unpriced != UnpricedAllow && l.Unpriced != UnpricedDeny {
		return invalid("unpriced", "%q must be allow or deny", l.Unpriced)
	}
	return nil
}

func (k *Key) validate(now time.Time) error {
	if k.Provider == "" {
		return invalid("provider", "must not be empty")
	}
	if err := validName("name", k.Name, false); err != nil {
		return err
	}
	if len(k.Credentials) == 0 {
		return invalid("credentials", "give at least one credential id")
	}
	if len(k.Credentials) > MaxPoolSize {
		return invalid("credentials", "a key's pool holds at most %d credentials, not %d", MaxPoolSize, len(k.Credentials))
	}
	seen := map[string]bool{}
	for _, id := range k.Credentials {
		if seen[id] {
			return invalid("credentials", "%s is listed twice", id)
		}
		seen[id] = true
	}
	if !oneOf(k.Strategy, Strategies) {
		return invalid("strategy", "%q is not one of %s", k.Strategy, strings.Join(Strategies, ", "))
	}
	if err := k.Limits.validate(); err != nil {
		return err
	}
	if err := ValidModels(k.Models); err != nil {
		return err
	}
	if err := validTimeout("timeout", k.Timeout); err != nil {
		return err
	}
	if k.MaxRetries != nil && (*k.MaxRetries < 0 || *k.MaxRetries > MaxRetriesLimit) {
		return invalid("max_retries", "%d must be between 0 and %d", *k.MaxRetries, MaxRetriesLimit)
	}
	return nil
}

// checkPool verifies inside tx that the provider exists and every
// credential exists and belongs to it.
func checkPool(tx *bolt.Tx, provider string, ids []string) error {
	if tx.Bucket(bucketProviders).Get([]byte(provider)) == nil {
		return fmt.Errorf("provider %q: %w", provider, ErrNotFound)
	}
	b := tx.Bucket(bucketCredentials)
	for _, id := range ids {
		var rec credentialRecord
		if err := getJSON(b, []byte(id), &rec); err != nil {
			return invalid("credentials", "credential %s does not exist", id)
		}
		if rec.Provider != provider {
			return invalid("credentials", "credential %s belongs to provider %q, not %q", id, rec.Provider, provider)
		}
	}
	return nil
}

// CreateKey stores a new key and returns it with its secret, which is not
// kept anywhere and cannot be shown again.
func (s *Store) CreateKey(in KeyInput) (Key, string, error) {
	now := s.now().UTC()
	k := Key{
		ID: newID("key_"), Name: in.Name, Provider: in.Provider, Credentials: in.Credentials,
		Strategy: in.Strategy, Models: slices.Clone(in.Models), Limits: in.Limits, Timeout: in.Timeout, MaxRetries: in.MaxRetries,
		ExpiresAt: utcPtr(in.ExpiresAt), CreatedAt: now, UpdatedAt: now,
	}
	if k.Strategy == "" {
		k.Strategy = DefaultStrategy
	}
	if err := k.validate(now); err != nil {
		return Key{}, "", err
	}
	if err := validFuture("expires_at", k.ExpiresAt, now); err != nil {
		return Key{}, "", err
	}
	secret := NewKeySecret()
	k.Hash = HashKey([]byte(secret))
	k.Preview = keyPreview(secret)
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := checkPool(tx, k.Provider, k.Credentials); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketKeys), []byte(k.ID), &keyRecord{Key: k, HashHex: hex.EncodeToString(k.Hash[:])})
	})
	if err != nil {
		return Key{}, "", err
	}
	k.setStatus(now)
	return k, secret, nil
}

func getKeyRecord(tx *bolt.Tx, id string) (*keyRecord, error) {
	var rec keyRecord
	if err := getJSON(tx.Bucket(bucketKeys), []byte(id), &rec); err != nil {
		return nil, fmt.Errorf("key %q: %w", id, err)
	}
	if err := rec.decodeHash(); err != nil {
		return nil, err
	}
	return &rec, nil
}

// changeableKeyRecord is a key's record unless the key is revoked: a
// revoked key stays as it is.
func changeableKeyRecord(tx *bolt.Tx, id string) (*keyRecord, error) {
	rec, err := getKeyRecord(tx, id)
	if err == nil && rec.RevokedAt != nil {
		err = invalid("id", "key %s is revoked and cannot be changed", id)
	}
	return rec, err
}

func (rec *keyRecord) decodeHash() error {
	h, err := hex.DecodeString(rec.HashHex)
	if err != nil || len(h) != len(rec.Hash) {
		return fmt.Errorf("key %s: damaged hash", rec.ID)
	}
	copy(rec.Hash[:], h)
	return nil
}

func (k *Key) setStatus(now time.Time) {
	if k.Models == nil {
		k.Models = []string{} // "models": [] (every model), never null
	}
	switch {
	case k.RevokedAt != nil:
		k.Status = KeyRevoked
	case k.ExpiresAt != nil && !k.ExpiresAt.After(now):
		k.Status = KeyExpired
	default:
		k.Status = KeyActive
	}
}

// Key returns one key (never its secret).
func (s *Store) Key(id string) (Key, error) {
	var k Key
	err := s.db.View(func(tx *bolt.Tx) error {
		rec, err := getKeyRecord(tx, id)
		if err != nil {
			return err
		}
		k = rec.Key
		return nil
	})
	k.setStatus(s.now())
	return k, err
}

func listKeys(tx *bolt.Tx, now time.Time) ([]Key, error) {
	out, err := readKeys(tx, now)
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, err
}

// readKeys reads every key in the bucket's (id) order. Decoding is most of
// a large gateway's start-up (~8 µs a key), so the records, which stay
// valid for the transaction, are decoded on every core at once, into a
// slice sized once.
func readKeys(tx *bolt.Tx, now time.Time) ([]Key, error) {
	var raw [][]byte
	if err := tx.Bucket(bucketKeys).ForEach(func(_, v []byte) error {
		raw = append(raw, v)
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]Key, len(raw))
	workers := 1
	if len(raw) >= 4096 {
		workers = runtime.GOMAXPROCS(0)
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(raw); i += workers {
				var rec keyRecord
				if err := jsonDecode(raw[i], &rec); err != nil {
					errs[w] = err
					return
				}
				if err := rec.decodeHash(); err != nil {
					errs[w] = err
					return
				}
				rec.Key.setStatus(now)
				out[i] = rec.Key
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateKey applies patch to an active or expired key; revoked keys stay as they are.
func (s *Store) UpdateKey(id string, p KeyPatch) (Key, error) {
	var k Key
	now := s.now().UTC()
	err := s.db.Update(func(tx *bolt.Tx) error {
		rec, err := changeableKeyRecord(tx, id)
		if err != nil {
			return err
		}
		k = rec.Key
		setIf(&k.Name, p.Name)
		if p.Credentials != nil {
			k.Credentials = slices.Clone(*p.Credentials)
		}
		setIf(&k.Strategy, p.Strategy)
		if p.Models != nil {
			k.Models = slices.Clone(*p.Models)
		}
		setIf(&k.RPM, p.RPM)
		setIf(&k.TPM, p.TPM)
		setIf(&k.DailyTokens, p.DailyTokens)
		setIf(&k.DailyCost, p.DailyCost)
		setIf(&k.MaxConcurrency, p.MaxConcurrency)
		setIf(&k.MonthlyCost, p.MonthlyCost)
		setIf(&k.MonthlyTokens, p.MonthlyTokens)
		setIf(&k.TotalCost, p.TotalCost)
		setIf(&k.Unpriced, p.Unpriced)
		setIf(&k.Timeout, p.Timeout)
		if p.MaxRetries != nil {
			v := *p.MaxRetries
			k.MaxRetries = &v
		}
		if p.ExpiresAt != nil {
			if err := validFuture("expires_at", p.ExpiresAt, now); err != nil {
				return err
			}
			k.ExpiresAt = utcPtr(p.ExpiresAt)
		}
		if p.NoExpiry {
			k.ExpiresAt = nil
		}
		if err := k.validate(now); err != nil {
			return err
		}
		if p.Credentials != nil {
			if err := checkPool(tx, k.Provider, k.Credentials); err != nil {
				return err
			}
		}
		k.UpdatedAt = now
		rec.Key = k
		return putJSON(tx.Bucket(bucketKeys), []byte(id), rec)
	})
	if err != nil {
		return Key{}, err
	}
	k.setStatus(now)
	return k, nil
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// RevokeKey revokes a key for good; revoking twice is harmless.
func (s *Store) RevokeKey(id string) (Key, error) {
	var k Key
	now := s.now().UTC()
	err := s.db.Update(func(tx *bolt.Tx) error {
		rec, err := getKeyRecord(tx, id)
		if err != nil {
			return err
		}
		if rec.RevokedAt == nil {
			rec.RevokedAt = &now
			rec.UpdatedAt = now
			if err := putJSON(tx.Bucket(bucketKeys), []byte(id), rec); err != nil {
				return err
			}
		}
		k = rec.Key
		return nil
	})
	k.setStatus(now)
	return k, err
}

func deleteKey(tx *bolt.Tx, id string) error {
	b := tx.Bucket(bucketKeys)
	if b.Get([]byte(id)) == nil {
		return fmt.Errorf("key %q: %w", id, ErrNotFound)
	}
	return b.Delete([]byte(id))
}

// DeleteKey removes a key record for good (operators revoke keys instead).
func (s *Store) DeleteKey(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return deleteKey(tx, id) })
}

// RotateKeySecret gives an active key a new secret and returns it; the old
// secret stops working at once, while the key keeps its id, settings and
// history. (`aigw serve --demo` uses it to print a working key at every
// start without replacing the demo key.)
func (s *Store) RotateKeySecret(id string) (Key, string, error) {
	var k Key
	now := s.now().UTC()
	secret := NewKeySecret()
	err := s.db.Update(func(tx *bolt.Tx) error {
		rec, err := changeableKeyRecord(tx, id)
		if err != nil {
			return err
		}
		rec.Hash = HashKey([]byte(secret))
		rec.HashHex = hex.EncodeToString(rec.Hash[:])
		rec.Preview = keyPreview(secret)
		rec.UpdatedAt = now
		k = rec.Key
		return putJSON(tx.Bucket(bucketKeys), []byte(id), rec)
	})
	if err != nil {
		return Key{}, "", err
	}
	k.setStatus(now)
	return k, secret, nil
}
