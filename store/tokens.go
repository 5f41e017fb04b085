package store

import (
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AdminToken records an issued admin token (a JWT whose jti is ID). The
// token string itself is not stored: it is signed, shown once, and checked
// against this record (scopes, expiry, revocation) on every use.
type AdminToken struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	CreatedAt time.Time  `json:"created_at"`
	Status    string     `json:"status"` // derived: active, revoked, expired
}

func (t *AdminToken) setStatus(now time.Time) {
	switch {
	case t.RevokedAt != nil:
		t.Status = KeyRevoked
	case !t.ExpiresAt.After(now):
		t.Status = KeyExpired
	default:
		t.Status = KeyActive
	}
}

// CreateToken records a new admin token; the caller signs it.
func (s *Store) CreateToken(name string, scopes []string, expiresAt time.Time) (AdminToken, error) {
	now := s.now().UTC()
	if err := validName("name", name, false); err != nil {
		return AdminToken{}, err
	}
	if len(scopes) == 0 {
		return AdminToken{}, invalid("scopes", "give at least one scope")
	}
	expiresAt = expiresAt.UTC().Truncate(time.Second) // a JWT's exp has whole seconds
	if !expiresAt.After(now) {
		return AdminToken{}, invalid("ttl", "the token would already be expired")
	}
	t := AdminToken{ID: newID("tok_"), Name: name, Scopes: scopes, ExpiresAt: expiresAt, CreatedAt: now}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketTokens), []byte(t.ID), &t)
	})
	if err != nil {
		return AdminToken{}, err
	}
	t.setStatus(now)
	return t, nil
}

// Token returns one admin token record.
func (s *Store) Token(id string) (AdminToken, error) {
	var t AdminToken
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := getJSON(tx.Bucket(bucketTokens), []byte(id), &t); err != nil {
			return fmt.Errorf("token %q: %w", id, err)
		}
		return nil
	})
	t.setStatus(s.now())
	return t, err
}

// Tokens lists admin tokens, oldest first.
func (s *Store) Tokens() ([]AdminToken, error) {
	out := []AdminToken{}
	now := s.now()
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).ForEach(func(_, v []byte) error {
			var t AdminToken
			if err := jsonDecode(v, &t); err != nil {
				return err
			}
			t.setStatus(now)
			out = append(out, t)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, err
}

// RevokeToken revokes an admin token; revoking twice is harmless.
func (s *Store) RevokeToken(id string) (AdminToken, error) {
	var t AdminToken
	now := s.now().UTC()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if err := getJSON(b, []byte(id), &t); err != nil {
			return fmt.Errorf("token %q: %w", id, err)
		}
		if t.RevokedAt != nil {
			return nil
		}
		t.RevokedAt = &now
		return putJSON(b, []byte(id), &t)
	})
	t.setStatus(now)
	return t, err
}
