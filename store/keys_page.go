package store

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Keys are listed a page at a time (issue 17): 100,000 keys must be as
// usable as ten. Key ids are random, so three index buckets, written in
// the same transaction as every key write (indexKey), give the orders a
// page is read in without decoding other keys:
//
//	keys_by_created   created(8) id               oldest first: the listing order
//	keys_by_name      name 0x00 created(8) id     a name prefix
//	keys_by_provider  provider 0x00 created(8) id one provider, oldest first
//
// created is the creation time in Unix nanoseconds, big-endian with the
// sign bit flipped (so that it sorts as a signed number). Every entry's
// value is the same summary of the key: a flags byte (revoked), its expiry
// (Unix ns, 0: none), its id and its provider — enough to apply every
// filter from any index, so that a page reads only the records it returns.
var (
	bucketKeysByCreated  = []byte("keys_by_created")
	bucketKeysByName     = []byte("keys_by_name")
	bucketKeysByProvider = []byte("keys_by_provider")
)

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

// Keys returns one page of keys matching f and the cursor of the next
// page ("" when this one is the last). Without a name prefix they are
// oldest first (created_at, then id). A key created while an operator
// pages comes last (or, by name, where its name sorts); one revoked keeps
// its place: pages never repeat or skip the others.
func (s *Store) Keys(f KeyFilter) ([]Key, string, error) {
	if err := f.check(); err != nil {
		return nil, "", err
	}
	now := s.now()
	out := []Key{}
	var next string
	err := s.db.View(func(tx *bolt.Tx) error {
		ids, n, err := scanKeyIndex(tx, &f, now.UnixNano())
		if err != nil {
			return err
		}
		next = n
		for _, id := range ids {
			rec, err := getKeyRecord(tx, id)
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

// The cursor names the index it was taken from (its first byte) and the
// index entry of the page's last key.
const (
	cursorCreated  = 'c'
	cursorName     = 'n'
	cursorProvider = 'p'
)

// scanKeyIndex walks the index f selects from after f.After and returns
// the ids of up to f.Limit matching keys and the next cursor.
func scanKeyIndex(tx *bolt.Tx, f *KeyFilter, nowNs int64) (ids []string, next string, err error) {
	var bucket, prefix []byte
	var kind byte
	switch {
	case f.NamePrefix != "":
		bucket, prefix, kind = bucketKeysByName, []byte(f.NamePrefix), cursorName
	case f.Provider != "":
		bucket, prefix, kind = bucketKeysByProvider, append([]byte(f.Provider), 0), cursorProvider
	default:
		bucket, kind = bucketKeysByCreated, cursorCreated
	}
	c := tx.Bucket(bucket).Cursor()
	var k, v []byte
	if f.After != "" {
		after, err := base64.RawURLEncoding.DecodeString(f.After)
		if err != nil || len(after) < 2 || after[0] != kind || !bytes.HasPrefix(after[1:], prefix) {
			return nil, "", errCursor()
		}
		after = after[1:]
		k, v = c.Seek(after)
		if bytes.Equal(k, after) {
			k, v = c.Next()
		}
	} else if prefix != nil {
		k, v = c.Seek(prefix)
	} else {
		k, v = c.First()
	}
	var last []byte
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		sum, ok := decodeKeySummary(v)
		if !ok {
			return nil, "", errDamagedIndex(bucket, k)
		}
		if f.Provider != "" && string(sum.provider) != f.Provider { // no allocation
			continue
		}
		if f.Status != "" && sum.status(nowNs) != f.Status {
			continue
		}
		if len(ids) == f.Limit { // one more matches: there is a next page
			next = base64.RawURLEncoding.EncodeToString(append([]byte{kind}, last...))
			break
		}
		ids = append(ids, string(sum.id))
		last = append(last[:0], k...)
	}
	return ids, next, nil
}

func errDamagedIndex(bucket, k []byte) error {
	return &damagedIndexError{bucket: string(bucket), key: k}
}

type damagedIndexError struct {
	bucket string
	key    []byte
}

func (e *damagedIndexError) Error() string {
	return "index " + e.bucket + ": damaged entry " + base64.RawURLEncoding.EncodeToString(e.key)
}

// keySummary is an index entry's value; id and provider point into it
// (valid in its transaction only).
type keySummary struct {
	revoked   bool
	expiresNs int64 // 0: never
	id        []byte
	provider  []byte
}

func (s *keySummary) status(nowNs int64) string {
	switch {
	case s.revoked:
		return KeyRevoked
	case s.expiresNs != 0 && s.expiresNs <= nowNs:
		return KeyExpired
	}
	return KeyActive
}

func encodeKeySummary(k *Key) []byte {
	b := make([]byte, 0, 10+len(k.ID)+len(k.Provider))
	var flags byte
	if k.RevokedAt != nil {
		flags = 1
	}
	b = append(b, flags)
	var exp int64
	if k.ExpiresAt != nil {
		exp = unixNs(*k.ExpiresAt)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(exp))
	b = append(b, byte(len(k.ID)))
	b = append(b, k.ID...)
	return append(b, k.Provider...)
}

func decodeKeySummary(v []byte) (keySummary, bool) {
	if len(v) < 10 || len(v) < 10+int(v[9]) {
		return keySummary{}, false
	}
	n := int(v[9])
	return keySummary{
		revoked:   v[0]&1 != 0,
		expiresNs: int64(binary.BigEndian.Uint64(v[1:9])),
		id:        v[10 : 10+n],
		provider:  v[10+n:],
	}, true
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
func orderedNs(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(unixNs(t))^(1<<63))
}

func keyIndexEntries(k *Key) [3][2][]byte {
	created := orderedNs(k.CreatedAt)
	tail := append(created, k.ID...)
	return [3][2][]byte{
		{bucketKeysByCreated, tail},
		{bucketKeysByName, slices.Concat([]byte(k.Name), []byte{0}, tail)},
		{bucketKeysByProvider, slices.Concat([]byte(k.Provider), []byte{0}, tail)},
	}
}

// indexKey moves a key's index entries from what old was to what k is
// (old nil: a new key; k nil: a deleted one), inside the write's
// transaction.
func indexKey(tx *bolt.Tx, old, k *Key) error {
	if old != nil {
		for _, e := range keyIndexEntries(old) {
			if err := tx.Bucket(e[0]).Delete(e[1]); err != nil {
				return err
			}
		}
	}
	if k == nil {
		return nil
	}
	sum := encodeKeySummary(k)
	for _, e := range keyIndexEntries(k) {
		if err := tx.Bucket(e[0]).Put(e[1], sum); err != nil {
			return err
		}
	}
	return nil
}

// migrateV4 creates the key indexes and fills them from the stored keys.
func migrateV4(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketKeysByCreated, bucketKeysByName, bucketKeysByProvider} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	var keys []Key
	err := tx.Bucket(bucketKeys).ForEach(func(_, v []byte) error {
		var rec keyRecord
		if err := jsonDecode(v, &rec); err != nil {
			return err
		}
		keys = append(keys, rec.Key)
		return nil
	})
	if err != nil {
		return err
	}
	for i := range keys {
		if err := indexKey(tx, nil, &keys[i]); err != nil {
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
