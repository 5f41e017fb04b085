package store

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Keys are listed a page at a time (issue 17): 100,000 keys must be as
// usable as ten. Their records are stored by id, which is random, and no
// index of them is kept on disk: keeping three (by creation, by name, by
// provider) in step made every key change write and sync some ten more
// pages at random places of the file, the larger part of a create's time
// at 100,000 keys (p99 5.6–7.4 ms with them, 3.7–4.3 ms without, this
// disk). A page is picked instead from a walk over every key's KeyRef:
// the gateway's proxy holds them all in memory (the admin server passes
// its walk to KeysFrom), so a page costs a walk in memory and the reads of
// the records it returns. Without a walk, Keys reads the refs from the
// records themselves (O(keys): tests, an admin server without a proxy).
//
// The orders, and the cursors that name a place in them:
//
//	oldest first       'c' created(8) id
//	by name (a prefix) 'n' name 0x00 created(8) id
//	one provider       'p' provider 0x00 created(8) id
//
// created is the creation time in Unix nanoseconds, big-endian with the
// sign bit flipped (so that it sorts as a signed number): the entries of
// the indexes that schemas 4–6 kept, so a cursor handed out before the
// upgrade still reads.

// Page sizes of Keys and Credentials.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// KeyFilter selects a page of keys. The zero value is the first page of
// every key, oldest first.
type KeyFilter struct {
	Provider   string // exactly this provider
	NamePrefix string // names starting with it; the page is then in name order (then oldest first)
	Status     string // KeyActive, KeyRevoked, KeyExpired or "" (all)
	After      string // the next cursor of the page before; "" for the first page
	Limit      int    // 0: DefaultPageLimit; at most MaxPageLimit
}

func (f *KeyFilter) check() error {
	if f.Status != "" && f.Status != KeyActive && f.Status != KeyRevoked && f.Status != KeyExpired {
		return invalid("status", "%q is not one of %s, %s, %s", f.Status, KeyActive, KeyRevoked, KeyExpired)
	}
	return checkLimit(&f.Limit)
}

func checkLimit(limit *int) error {
	switch {
	case *limit == 0:
		*limit = DefaultPageLimit
	case *limit < 0 || *limit > MaxPageLimit:
		return invalid("limit", "%d must be between 1 and %d", *limit, MaxPageLimit)
	}
	return nil
}

// errCursor is a cursor that this listing did not hand out.
func errCursor() error {
	return invalid("cursor", "is not a cursor of this listing (pass the next_cursor of the previous page, with the same filters)")
}

// KeyRef is what picking a page reads of a key. Its strings may point
// into its holder's memory: the pick keeps them, never changes them.
type KeyRef struct {
	ID, Name, Provider string
	Created            int64 // Unix ns
	Expires            int64 // Unix ns; 0: never
	Revoked            bool
}

// KeyRefs offers every key once, in any order; the *KeyRef is only read
// during the call.
type KeyRefs = iter.Seq[*KeyRef]

func (r *KeyRef) status(nowNs int64) string {
	switch {
	case r.Revoked:
		return KeyRevoked
	case r.Expires != 0 && r.Expires <= nowNs:
		return KeyExpired
	}
	return KeyActive
}

// Keys returns one page of keys matching f and the cursor of the next
// page ("" when this one is the last), reading every key's record to pick
// it: see KeysFrom.
func (s *Store) Keys(f KeyFilter) ([]Key, string, error) { return s.KeysFrom(f, nil) }

// KeysFrom returns one page of keys matching f, picked from refs (nil:
// from the stored records), and the cursor of the next page ("" when this
// one is the last). Without a name prefix they are oldest first
// (created_at, then id). A key created while an operator pages comes last
// (or, by name, where its name sorts); one revoked keeps its place: pages
// never repeat or skip the others. A key refs offers that is gone by the
// time its record is read is left out of the page.
func (s *Store) KeysFrom(f KeyFilter, refs KeyRefs) ([]Key, string, error) {
	if err := f.check(); err != nil {
		return nil, "", err
	}
	now := s.now()
	p, err := newKeyPicker(&f, now.UnixNano())
	if err != nil {
		return nil, "", err
	}
	if refs == nil {
		refs = s.storedKeyRefs(&err)
	}
	for r := range refs {
		p.offer(r)
	}
	if err != nil {
		return nil, "", err
	}
	ids, next := p.page()
	out := make([]Key, 0, len(ids))
	err = s.db.View(func(tx *bolt.Tx) error {
		for _, id := range ids {
			rec, err := getKeyRecord(tx, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			rec.Key.setStatus(now)
			out = append(out, rec.Key)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// storedKeyRefs walks the key records, decoding what a KeyRef holds; the
// walk stops at a record that does not decode, with *errp set.
func (s *Store) storedKeyRefs(errp *error) KeyRefs {
	return func(yield func(*KeyRef) bool) {
		*errp = s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketKeys).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				var rec struct {
					ID        string     `json:"id"`
					Name      string     `json:"name"`
					Provider  string     `json:"provider"`
					ExpiresAt *time.Time `json:"expires_at"`
					RevokedAt *time.Time `json:"revoked_at"`
					CreatedAt time.Time  `json:"created_at"`
				}
				if err := jsonDecode(v, &rec); err != nil {
					return fmt.Errorf("key %q: %w", k, err)
				}
				r := KeyRef{ID: rec.ID, Name: rec.Name, Provider: rec.Provider, Created: unixNs(rec.CreatedAt), Revoked: rec.RevokedAt != nil}
				if rec.ExpiresAt != nil {
					r.Expires = unixNs(*rec.ExpiresAt)
				}
				if !yield(&r) {
					return nil
				}
			}
			return nil
		})
	}
}

// The cursor's first byte names the order it was taken in.
const (
	cursorCreated  = 'c'
	cursorName     = 'n'
	cursorProvider = 'p'
)

// keyPlace is a key's place in a page's order: by name (order 'n' only),
// then creation, then id.
type keyPlace struct {
	name    string
	created int64
	id      string
}

// keyPicker keeps, of the keys offered that match the filter and come
// after the cursor, the Limit+1 first in the filter's order (a max-heap:
// the last of them on top), so that a page costs one pass over the keys
// and no sort of them all.
type keyPicker struct {
	f        *KeyFilter
	nowNs    int64
	order    byte
	after    keyPlace
	hasAfter bool
	heap     []keyPlace
}

func newKeyPicker(f *KeyFilter, nowNs int64) (*keyPicker, error) {
	p := &keyPicker{f: f, nowNs: nowNs, order: cursorCreated}
	var prefix string
	switch {
	case f.NamePrefix != "":
		p.order, prefix = cursorName, f.NamePrefix
	case f.Provider != "":
		p.order, prefix = cursorProvider, f.Provider+"\x00"
	}
	if f.After == "" {
		return p, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(f.After)
	if err != nil || len(raw) < 2 || raw[0] != p.order || !strings.HasPrefix(string(raw[1:]), prefix) {
		return nil, errCursor()
	}
	rest := raw[1:]
	switch p.order {
	case cursorName:
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return nil, errCursor()
		}
		p.after.name, rest = string(rest[:i]), rest[i+1:]
	case cursorProvider:
		rest = rest[len(prefix):]
	}
	if len(rest) < 8 {
		return nil, errCursor()
	}
	p.after.created = readOrderedNs(rest)
	p.after.id = string(rest[8:])
	p.hasAfter = true
	return p, nil
}

// cmp orders two places in the picker's order.
func (p *keyPicker) cmp(a, b *keyPlace) int {
	if p.order == cursorName {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
	}
	return cmp.Or(cmp.Compare(a.created, b.created), strings.Compare(a.id, b.id))
}

// offer considers one key.
func (p *keyPicker) offer(r *KeyRef) {
	f := p.f
	if f.Provider != "" && r.Provider != f.Provider || !strings.HasPrefix(r.Name, f.NamePrefix) ||
		f.Status != "" && r.status(p.nowNs) != f.Status {
		return
	}
	k := keyPlace{created: r.Created, id: r.ID}
	if p.order == cursorName {
		k.name = r.Name
	}
	if p.hasAfter && p.cmp(&k, &p.after) <= 0 {
		return
	}
	h := p.heap
	if len(h) <= f.Limit { // room for one more: sift it up
		h = append(h, k)
		for i := len(h) - 1; i > 0; {
			up := (i - 1) / 2
			if p.cmp(&h[up], &h[i]) >= 0 {
				break
			}
			h[up], h[i] = h[i], h[up]
			i = up
		}
		p.heap = h
		return
	}
	if p.cmp(&k, &h[0]) >= 0 { // after every one kept
		return
	}
	h[0] = k // replaces the last kept: sift it down
	for i := 0; ; {
		big, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && p.cmp(&h[l], &h[big]) > 0 {
			big = l
		}
		if r < len(h) && p.cmp(&h[r], &h[big]) > 0 {
			big = r
		}
		if big == i {
			break
		}
		h[i], h[big] = h[big], h[i]
		i = big
	}
}

// page returns the ids of the page, in order, and the next cursor.
func (p *keyPicker) page() (ids []string, next string) {
	h := p.heap
	slices.SortFunc(h, func(a, b keyPlace) int { return p.cmp(&a, &b) })
	if len(h) > p.f.Limit { // one more matches: there is a next page
		h = h[:p.f.Limit]
		last := &h[len(h)-1]
		c := []byte{p.order}
		switch p.order {
		case cursorName:
			c = append(append(c, last.name...), 0)
		case cursorProvider:
			c = append(append(c, p.f.Provider...), 0)
		}
		c = appendOrderedNs(c, last.created)
		next = base64.RawURLEncoding.EncodeToString(append(c, last.id...))
	}
	ids = make([]string, len(h))
	for i := range h {
		ids[i] = h[i].id
	}
	return ids, next
}

// unixNs is t in Unix nanoseconds, clamped to what an int64 holds (a zero
// time sorts first).
func unixNs(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// orderedNs is a signed time as bytes that sort like it.
func orderedNs(t time.Time) []byte { return appendOrderedNs(nil, unixNs(t)) }

// appendOrderedNs appends ns (Unix nanoseconds) as 8 bytes that sort like
// the signed number: big-endian with the sign bit flipped.
func appendOrderedNs(dst []byte, ns int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(ns)^1<<63)
}

// readOrderedNs reads what appendOrderedNs wrote (b holds 8 bytes or more).
func readOrderedNs(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ 1<<63) }

// Key indexes of schemas 4–6 (dropped by v7).
var (
	bucketKeysByCreated  = []byte("keys_by_created")
	bucketKeysByName     = []byte("keys_by_name")
	bucketKeysByProvider = []byte("keys_by_provider")
)

// migrateV4 created and filled the key indexes; v7 drops them, so a file
// older than v4 skips building them.
func migrateV4(*bolt.Tx) error { return nil }

// migrateV7 drops the key indexes: the listing picks its pages from the
// keys in memory (KeysFrom).
func migrateV7(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketKeysByCreated, bucketKeysByName, bucketKeysByProvider} {
		if tx.Bucket(name) == nil {
			continue
		}
		if err := tx.DeleteBucket(name); err != nil {
			return err
		}
	}
	return nil
}

// --- credentials -------------------------------------------------------------

// CredentialFilter selects a page of credentials. The zero value is the
// first page of every credential, by provider, then oldest first.
type CredentialFilter struct {
	Provider   string // exactly this provider
	NamePrefix string // names starting with it
	After      string // the next cursor of the page before; "" for the first page
	Limit      int    // 0: DefaultPageLimit; at most MaxPageLimit
}

// Credentials returns one page of credentials matching f (without their
// secrets), by provider, then oldest first, and the cursor of the next
// page ("" when this one is the last). An operator has tens of
// credentials, not thousands: the page is cut from the sorted list.
func (s *Store) Credentials(f CredentialFilter) ([]Credential, string, error) {
	if err := checkLimit(&f.Limit); err != nil {
		return nil, "", err
	}
	var after []byte
	if f.After != "" {
		var err error
		after, err = base64.RawURLEncoding.DecodeString(f.After)
		if err != nil || len(after) < 10 || after[0] != 'C' {
			return nil, "", errCursor()
		}
	}
	var all []Credential
	if err := s.db.View(func(tx *bolt.Tx) (err error) { all, err = listCredentials(tx); return err }); err != nil {
		return nil, "", err
	}
	out := []Credential{}
	for _, c := range all {
		if f.Provider != "" && c.Provider != f.Provider || !strings.HasPrefix(c.Name, f.NamePrefix) {
			continue
		}
		pos := credentialPosition(&c)
		if after != nil && bytes.Compare(pos, after) <= 0 {
			continue
		}
		if len(out) == f.Limit {
			return out, base64.RawURLEncoding.EncodeToString(credentialPosition(&out[len(out)-1])), nil
		}
		out = append(out, c)
	}
	return out, "", nil
}

// AllCredentials lists every credential without its secrets, by provider,
// then oldest first (the server's status, the demo's set-up).
func (s *Store) AllCredentials() ([]Credential, error) {
	var all []Credential
	err := s.db.View(func(tx *bolt.Tx) (err error) { all, err = listCredentials(tx); return err })
	return all, err
}

// credentialPosition is where c sorts in listCredentials' order, as bytes
// that compare the same way (provider names hold no 0x00).
func credentialPosition(c *Credential) []byte {
	return slices.Concat([]byte{'C'}, []byte(c.Provider), []byte{0}, orderedNs(c.CreatedAt), []byte(c.ID))
}
