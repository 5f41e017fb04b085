// Package store keeps aigw's durable state in one bbolt file: providers,
// credentials (secrets sealed with AES-256-GCM), gateway keys (only the
// SHA-256 of their secret), admin tokens, traces and usage roll-ups.
//
// Only `aigw serve` opens the database; everything else reaches it through
// the admin API. Values returned by bbolt are valid only inside their
// transaction, so every method decodes (copies) what it reads before the
// transaction ends. Methods report missing records with ErrNotFound, name
// clashes with ErrExists, records still referenced with ErrInUse and bad
// field values with *ValidationError; callers check them with errors.Is /
// errors.As.
package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Sentinel errors. Wrapped errors carry the details (which record, which keys).
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrInUse    = errors.New("in use")
	// ErrLocked means another process holds the database file.
	ErrLocked = errors.New("database is in use by another process")
	// ErrForeign means the file is not an aigw database (or is corrupt); it is left untouched.
	ErrForeign = errors.New("not an aigw database")
	// ErrNewerSchema means the file was written by a newer aigw.
	ErrNewerSchema = errors.New("database schema is newer than this aigw")
	// ErrWrongMasterKey means the master key is not the one the database's
	// secrets were sealed with; the file is left untouched.
	ErrWrongMasterKey = errors.New("the master key does not open this database's sealed secrets")
)

// Bucket names, created by the migrations (migrate.go); the credential
// roll-ups' is in usage_credentials.go.
var (
	bucketMeta        = []byte("meta")
	bucketProviders   = []byte("providers")
	bucketCredentials = []byte("credentials")
	bucketKeys        = []byte("keys")
	bucketKeyHashes   = []byte("key_hashes") // schemas 1–5: sha256(secret) → key id, never read (the proxy looks keys up in memory); v6 drops it
	bucketTokens      = []byte("admin_tokens")
	bucketTraces      = []byte("traces")
	bucketUsage       = []byte("usage")
)

var (
	metaApp     = []byte("app")
	metaAppName = []byte("aigw")
	metaVersion = []byte("schema_version")
	// metaKeyCheck holds keyCheckText sealed with the master key: it tells
	// a wrong master key from damaged credential records.
	metaKeyCheck = []byte("master_key_check")
)

const (
	keyCheckText = "aigw master key check"
	keyCheckID   = "meta/master_key_check" // the sealed value's additional data
)

// Store is the typed access to the database. It is safe for concurrent use.
type Store struct {
	db          *bolt.DB
	sealer      *sealer
	now         func() time.Time
	yield       func() // Options.Yield; never nil
	traceWriter traceWriter
	unreleased  atomic.Int64 // bytes of traces written since the mapped pages were last released
}

// Options tune Open. The zero value is usable.
type Options struct {
	// LockTimeout bounds the wait for the file lock held by another process (default 2s).
	LockTimeout time.Duration
	// Now replaces the clock (tests).
	Now func() time.Time
	// Yield, when set, is called every YieldEvery traces while a batch of
	// traces is encoded and stored, so that the gateway can let its
	// requests run: with one core, a batch written in one go holds it for
	// milliseconds and delays every request that arrives meanwhile.
	Yield func()
	// NoSync commits without fsync: a crash may lose the last writes. For
	// filling benchmark databases, never for serving.
	NoSync bool
}

// YieldEvery is how many traces a batch writer handles between two calls
// of Options.Yield.
const YieldEvery = 32

// pageSize is the page size of a new database file. bbolt keeps, for as
// long as the process runs, an entry for every page it allocated that is
// still in use: once retention has cycled through a file of a million
// traces, that map alone held ~5 MiB with 4 KiB pages (and twice that in
// the collector's room), against ~0.5 MiB with 16 KiB. Larger pages also
// cost the trace writer ~8 % less CPU a trace (bench/scale), and a file
// filled by the gateway's own load held a million traces in 534 MB instead
// of 620.
const pageSize = 16 << 10

// Open opens (creating if needed) the database at path. masterKey (32 bytes)
// seals credential secrets. A file that is not an aigw database is refused
// with ErrForeign and not modified; a file locked by another process gives
// ErrLocked after opts.LockTimeout.
func Open(path string, masterKey []byte, opts Options) (*Store, error) {
	sl, err := newSealer(masterKey)
	if err != nil {
		return nil, err
	}
	if err := CheckFile(path); err != nil {
		return nil, err
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 2 * time.Second
	}
	// bbolt may write to an existing file as soon as it opens it read-write
	// (it rewrites a freelist that was not synced), so an existing file is
	// first checked through a read-only handle.
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		ro, err := openBolt(path, &bolt.Options{Timeout: opts.LockTimeout, ReadOnly: true})
		if err != nil {
			return nil, err
		}
		err = checkOwner(ro)
		if err == nil {
			err = checkMasterKey(ro, sl)
		}
		ro.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	// The hash-map freelist allocates pages in O(1) however large the file
	// grows with traces (the default array freelist scans). A new file gets
	// pageSize pages (an existing one keeps its own).
	db, err := openBolt(path, &bolt.Options{Timeout: opts.LockTimeout, FreelistType: bolt.FreelistMapType, PageSize: pageSize})
	if err != nil {
		return nil, err
	}
	db.NoSync = opts.NoSync
	s := &Store{db: db, sealer: sl, now: opts.Now, yield: opts.Yield}
	if s.yield == nil {
		s.yield = func() {}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := checkOwner(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := migrate(db, migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := s.buildTraceIndex(); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := s.writeKeyCheck(); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// checkMasterKey refuses a master key that is not the database's, before
// anything is written. The sealed check value decides; a database from
// before it existed accepts the key when it opens at least one credential
// (AES-GCM does not open under another key), or when there is none.
func checkMasterKey(db *bolt.DB, sl *sealer) error {
	return db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return nil // a fresh file
		}
		if v := meta.Get(metaKeyCheck); v != nil {
			if pt, err := sl.open(v, keyCheckID); err != nil || pt != keyCheckText {
				return ErrWrongMasterKey
			}
			return nil
		}
		creds := tx.Bucket(bucketCredentials)
		if creds == nil {
			return nil
		}
		seen, opened := 0, false
		c := creds.Cursor()
		for k, v := c.First(); k != nil && !opened; k, v = c.Next() {
			var rec credentialRecord
			if jsonDecode(v, &rec) != nil || len(rec.SealedSecret) == 0 {
				continue
			}
			seen++
			_, err := sl.open(rec.SealedSecret, string(k))
			opened = err == nil
		}
		if seen > 0 && !opened {
			return fmt.Errorf("%w (none of its %d credentials unseals)", ErrWrongMasterKey, seen)
		}
		return nil
	})
}

// writeKeyCheck seals the check value on first start (or the first start
// of a database from before it existed), once Open has accepted the key.
func (s *Store) writeKeyCheck() error {
	var present bool
	if err := s.db.View(func(tx *bolt.Tx) error {
		present = tx.Bucket(bucketMeta).Get(metaKeyCheck) != nil
		return nil
	}); err != nil || present {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaKeyCheck, s.sealer.seal(keyCheckText, keyCheckID))
	})
}

// Close closes the database file.
func (s *Store) Close() error { return s.db.Close() }

// Path is the database file's path.
func (s *Store) Path() string { return s.db.Path() }

// SmallPages reports whether the file has pages smaller than a new file's
// (made before 2026-12-03): it works the same, with more memory for page
// bookkeeping once retention prunes; CompactFile moves it to the new size.
func (s *Store) SmallPages() bool { return s.db.Info().PageSize < pageSize }

// CheckFile refuses an existing non-empty file whose first meta page does
// not carry bbolt's magic number, before bbolt gets a chance to touch it.
// A missing or empty file is fine (Open creates it).
func CheckFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	// A bbolt page header is 16 bytes (id, flags, count, overflow); the meta
	// that follows starts with the magic number, in native (little) endian.
	var hdr [20]byte
	n, err := io.ReadFull(f, hdr[:])
	if n == 0 && errors.Is(err, io.EOF) {
		return nil // empty file: bbolt initialises it
	}
	const boltMagic = 0xED0CDAED
	if err != nil || binary.LittleEndian.Uint32(hdr[16:20]) != boltMagic {
		return fmt.Errorf("%s: %w (no bbolt header)", path, ErrForeign)
	}
	return nil
}

func openBolt(path string, opts *bolt.Options) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, opts)
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
			return nil, fmt.Errorf("%s: %w (%v)", path, ErrForeign, err)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// checkOwner accepts a fresh file or one marked as aigw's, and refuses a
// bbolt file that belongs to another program.
func checkOwner(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			foreign := false
			_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				foreign = true
				return nil
			})
			if foreign {
				return fmt.Errorf("%w (a bbolt file of another program)", ErrForeign)
			}
			return nil
		}
		// Every aigw file marks its meta bucket (the first migration does it
		// in the same transaction that creates the bucket), so a "meta"
		// bucket without the mark belongs to another program.
		if app := meta.Get(metaApp); !bytes.Equal(app, metaAppName) {
			return fmt.Errorf("%w (written by %q)", ErrForeign, app)
		}
		return nil
	})
}

// SchemaVersion reports the database's schema version.
func (s *Store) SchemaVersion() (int, error) {
	var v int
	err := s.db.View(func(tx *bolt.Tx) error {
		v = readVersion(tx)
		return nil
	})
	return v, err
}

// Backup writes a consistent snapshot of the whole database to w while the
// store keeps serving. size is called first with the snapshot's byte length.
func (s *Store) Backup(w io.Writer, size func(int64)) error {
	return s.db.View(func(tx *bolt.Tx) error {
		if size != nil {
			size(tx.Size())
		}
		_, err := tx.WriteTo(w)
		return err
	})
}

// --- helpers shared by the typed methods --------------------------------

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	raw := b.Get(key)
	if raw == nil {
		return ErrNotFound
	}
	return json.Unmarshal(raw, v) // copies out of the mmap before the tx ends
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// jsonDecode decodes a value read inside a transaction; json.Unmarshal
// copies what it keeps, so nothing refers to the mmap afterwards.
func jsonDecode(raw []byte, v any) error { return json.Unmarshal(raw, v) }
