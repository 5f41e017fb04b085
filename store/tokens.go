package store

import (
	"errors"
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
	// ParentID is the token that created this one through the admin API; ""
	// for a root (the local admin.token). A token whose parent is not a
	// root expires no later than its parent and is revoked with it.
	ParentID string `json:"parent_id,omitempty"`
}

// ErrTokenInactive means the token that would create another is revoked or expired.
var ErrTokenInactive = errors.New("admin token is not active")

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

// CreateToken records a new root admin token; the caller signs it.
func (s *Store) CreateToken(name string, scopes []string, expiresAt time.Time) (AdminToken, error) {
	return s.CreateChildToken("", name, scopes, expiresAt)
}

// CreateChildToken records a token created by the token parentID (a root
// token when parentID is ""). The parent must be active; when the parent
// is not itself a root, the new token's expiry is cut to the parent's, so
// the returned ExpiresAt is the effective one.
func (s *Store) CreateChildToken(parentID, name string, scopes []string, expiresAt time.Time) (AdminToken, error) {
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
	t := AdminToken{ID: newID("tok_"), Name: name, Scopes: scopes, ExpiresAt: expiresAt, CreatedAt: now, ParentID: parentID}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if parentID != "" {
			var parent AdminToken
			if err := getJSON(b, []byte(parentID), &parent); err != nil {
				return fmt.Errorf("token %q: %w", parentID, err)
			}
			if parent.setStatus(now); parent.Status != KeyActive {
				return fmt.Errorf("creating token %s: %w (%s)", parentID, ErrTokenInactive, parent.Status)
			}
			if parent.ParentID != "" && t.ExpiresAt.After(parent.ExpiresAt) {
				t.ExpiresAt = parent.ExpiresAt
			}
		}
		return putJSON(b, []byte(t.ID), &t)
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

// RevokeToken revokes an admin token and, unless it is a root, every token
// it created, transitively, in one transaction; revoking twice is harmless.
func (s *Store) RevokeToken(id string) (AdminToken, error) {
	var t AdminToken
	now := s.now().UTC()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if err := getJSON(b, []byte(id), &t); err != nil {
			return fmt.Errorf("token %q: %w", id, err)
		}
		if t.RevokedAt == nil {
			t.RevokedAt = &now
			if err := putJSON(b, []byte(id), &t); err != nil {
				return err
			}
		}
		if t.ParentID == "" {
			return nil // a root's children live on, as they always have
		}
		return revokeDescendants(b, id, now)
	})
	t.setStatus(now)
	return t, err
}

// revokeDescendants revokes every token below id. Each record is visited
// at most once, so the walk is bounded by the number of tokens.
func revokeDescendants(b *bolt.Bucket, id string, now time.Time) error {
	children := map[string][]AdminToken{}
	err := b.ForEach(func(_, v []byte) error {
		var t AdminToken
		if err := jsonDecode(v, &t); err != nil {
			return err
		}
		if t.ParentID != "" {
			children[t.ParentID] = append(children[t.ParentID], t)
		}
		return nil
	})
	if err != nil {
		return err
	}
	queue := []string{id}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		for _, c := range children[parent] {
			if c.RevokedAt == nil {
				c.RevokedAt = &now
				if err := putJSON(b, []byte(c.ID), &c); err != nil {
					return err
				}
			}
			queue = append(queue, c.ID)
		}
		delete(children, parent) // visited: a cycle in bad data cannot loop
	}
	return nil
}
