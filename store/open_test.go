package store

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenFreshFile(t *testing.T) {
	s := openTest(t)

	v, err := s.SchemaVersion()
	if err != nil || v != LatestSchema {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, LatestSchema)
	}
	if ps := s.db.Info().PageSize; ps != pageSize {
		t.Errorf("a new database has %d-byte pages, want %d", ps, pageSize)
	}
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode = %v; want 0600 (it holds sealed secrets)", perm)
	}
	// Every bucket is there and usable.
	err = s.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketProviders, bucketCredentials, bucketKeys,
			bucketTokens, bucketTraces, bucketUsage} {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %q missing in a fresh database", name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, list := range []func() (int, error){
		func() (int, error) { p, err := s.Providers(); return len(p), err },
		func() (int, error) { c, err := s.credentialsOf(""); return len(c), err },
		func() (int, error) { k, err := s.allKeys(); return len(k), err },
		func() (int, error) { k, err := s.Tokens(); return len(k), err },
	} {
		if n, err := list(); err != nil || n != 0 {
			t.Errorf("fresh database lists %d records, %v; want 0, nil", n, err)
		}
	}
}

// A file made with another page size (4 KiB, as aigw made them before)
// keeps it, and its traces are written, pruned and read as in a new one.
func TestOpenKeepsTheFilesOwnPageSize(t *testing.T) {
	path := writeV0(t)
	s, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		s.Close()
		checkDatabase(t, path, testKey)
	}()
	if ps := s.db.Info().PageSize; ps != 4096 {
		t.Fatalf("the file's page size became %d, want its own 4096", ps)
	}
	t0 := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	var batch []*Trace
	for i := range 3000 {
		batch = append(batch, tr(t0.Add(time.Duration(i)*time.Millisecond), "key_1", "openai", "gpt-5", 200))
	}
	write(t, s, batch...)
	if n, err := s.PruneTraces(time.Time{}, 1000, 0); err != nil || n != 2000 {
		t.Fatalf("PruneTraces = %d, %v; want 2000 deleted", n, err)
	}
	got, _, err := s.Traces(TraceFilter{KeyID: "key_1", Limit: 5})
	if err != nil || len(got) != 5 || got[0].RequestID != batch[2999].RequestID {
		t.Fatalf("Traces after prune = %d traces (first %v), %v; want the newest 5 from %s", len(got), ids(got), err, batch[2999].RequestID)
	}
}

func TestOpenEmptyFileIsInitialised(t *testing.T) {
	// An operator may create the file beforehand (touch aigw.db).
	path := filepath.Join(t.TempDir(), "aigw.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatalf("Open of an empty file: %v", err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(); v != LatestSchema {
		t.Errorf("SchemaVersion = %d; want %d", v, LatestSchema)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "aigw.db")
	s, err := Open(path, testKey, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, s)
	k, secret, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID, f.c2.ID}, Name: "app",
		Strategy: StrategyWeighted, Limits: Limits{RPM: 60, DailyCost: 2.5}, MaxRetries: ptr(3)})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.CreateToken("ci", []string{"keys:read", "traces:read"}, clk.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	tokensBefore, err := s.Tokens()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, testKey, Options{Now: clk.Now})
	if err != nil {
		t.Fatalf("re-open: %v", err)
	}
	defer s.Close()
	after, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("Load after re-open differs:\nbefore %+v\nafter  %+v", before, after)
	}
	secrets := map[string][2]string{}
	for _, c := range after.Credentials {
		secrets[c.ID] = [2]string{c.Secret, c.RefreshToken}
	}
	for id, want := range map[string][2]string{f.c1.ID: {secret1, ""}, f.c2.ID: {secret2, refresh2}, f.c3.ID: {secret3, ""}} {
		if secrets[id] != want {
			t.Errorf("credential %s unseals to %q after re-open; want %q", id, secrets[id], want)
		}
	}
	if len(after.Keys) != 1 || after.Keys[0].ID != k.ID || after.Keys[0].Hash != HashKey([]byte(secret)) {
		t.Errorf("keys after re-open = %+v; want key %s with the hash of its secret", after.Keys, k.ID)
	}
	tokensAfter, err := s.Tokens()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tokensBefore, tokensAfter) || len(tokensAfter) != 1 || tokensAfter[0].ID != tok.ID {
		t.Errorf("tokens after re-open = %+v; want %+v", tokensAfter, tokensBefore)
	}
}

func TestOpenLockedFile(t *testing.T) {
	s := openTest(t)

	start := time.Now()
	s2, err := Open(s.Path(), testKey, Options{LockTimeout: 200 * time.Millisecond})
	elapsed := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a database in use succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v; want ErrLocked", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("second Open took %v to give up; want about the 200ms LockTimeout", elapsed)
	}
	// The first holder is not disturbed.
	if _, err := s.CreateProvider(Provider{Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com"}); err != nil {
		t.Errorf("first store after a refused second Open: %v", err)
	}
}

// foreignBolt creates a bbolt file the way another program would.
func foreignBolt(t *testing.T, opts *bolt.Options, fill func(tx *bolt.Tx) error) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o600, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fill); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenRefusesForeignFiles(t *testing.T) {
	random := make([]byte, 16384)
	rand.New(rand.NewSource(1)).Read(random)
	sqlite := append([]byte("SQLite format 3\x00\x10\x00\x01\x01\x00\x40\x20\x20"), make([]byte, 4096)...)
	// bbolt's magic number where bbolt looks for it, garbage everywhere else.
	damaged := make([]byte, 8192)
	rand.New(rand.NewSource(2)).Read(damaged)
	copy(damaged[16:20], []byte{0xED, 0xDA, 0x0C, 0xED})

	files := map[string]func(t *testing.T) string{
		"random bytes": func(t *testing.T) string { return writeFile(t, random) },
		"text file":    func(t *testing.T) string { return writeFile(t, []byte("# my notes\nnothing to see here\n")) },
		"tiny file":    func(t *testing.T) string { return writeFile(t, []byte("hi\n")) },
		"sqlite file":  func(t *testing.T) string { return writeFile(t, sqlite) },
		"zeros":        func(t *testing.T) string { return writeFile(t, make([]byte, 8192)) },
		"damaged bbolt": func(t *testing.T) string {
			return writeFile(t, damaged)
		},
		"bbolt file of another program": func(t *testing.T) string {
			return foreignBolt(t, nil, func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte("foo"))
				if err != nil {
					return err
				}
				return b.Put([]byte("k"), []byte("v"))
			})
		},
		"bbolt file with a meta bucket of its own": func(t *testing.T) string {
			return foreignBolt(t, nil, func(tx *bolt.Tx) error {
				meta, err := tx.CreateBucket([]byte("meta"))
				if err != nil {
					return err
				}
				if err := meta.Put([]byte("version"), []byte("3")); err != nil {
					return err
				}
				_, err = tx.CreateBucket([]byte("users"))
				return err
			})
		},
		"bbolt file of another app": func(t *testing.T) string {
			return foreignBolt(t, nil, func(tx *bolt.Tx) error {
				meta, err := tx.CreateBucket([]byte("meta"))
				if err != nil {
					return err
				}
				return meta.Put([]byte("app"), []byte("notaigw"))
			})
		},
		"bbolt file written without freelist sync": func(t *testing.T) string {
			return foreignBolt(t, &bolt.Options{NoFreelistSync: true}, func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket([]byte("foo"))
				return err
			})
		},
	}
	for name, mk := range files {
		t.Run(name, func(t *testing.T) {
			path := mk(t)
			// An mtime in the past makes any rewrite visible even on coarse clocks.
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
			before := stateOf(t, path)

			s, err := Open(path, testKey, Options{LockTimeout: time.Second})
			if err == nil {
				s.Close()
				t.Fatal("Open accepted a foreign file")
			}
			if !errors.Is(err, ErrForeign) {
				t.Errorf("Open: %v; want ErrForeign", err)
			}
			if after := stateOf(t, path); after != before {
				t.Errorf("the refused file changed: before %+v, after %+v", before, after)
			}
		})
	}
}

func writeFile(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "aigw.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenBadMasterKey(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		path := filepath.Join(t.TempDir(), "aigw.db")
		s, err := Open(path, bytes.Repeat([]byte{1}, n), Options{})
		if err == nil {
			s.Close()
			t.Errorf("Open with a %d-byte master key succeeded", n)
			continue
		}
		if _, statErr := os.Stat(path); !errors.Is(statErr, os.ErrNotExist) {
			t.Errorf("Open with a %d-byte master key created the file (%v)", n, statErr)
		}
	}
}

// A master key that is not the database's is refused by Open before
// anything is written, whether the database carries the sealed check value
// or predates it (then no credential unsealing gives it away).
func TestOpenWithAnotherMasterKeyIsRefusedUntouched(t *testing.T) {
	other := bytes.Repeat([]byte{0x01}, MasterKeySize)
	refused := func(t *testing.T, path string) {
		t.Helper()
		before := stateOf(t, path)
		s, err := Open(path, other, Options{})
		if err == nil {
			s.Close()
			t.Fatal("Open with another master key succeeded")
		}
		if !errors.Is(err, ErrWrongMasterKey) {
			t.Errorf("Open with another master key: %v; want ErrWrongMasterKey", err)
		}
		if after := stateOf(t, path); after != before {
			t.Errorf("the database changed: before %+v, after %+v", before, after)
		}
	}
	dropCheck := func(t *testing.T, s *Store) {
		t.Helper()
		if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(metaKeyCheck) }); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("with the check value", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "aigw.db")
		s, err := Open(path, testKey, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Close() // no credential yet: the check value alone decides
		refused(t, path)
	})
	t.Run("database from before the check value", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "aigw.db")
		s, err := Open(path, testKey, Options{})
		if err != nil {
			t.Fatal(err)
		}
		newFixture(t, s)
		dropCheck(t, s)
		s.Close()
		refused(t, path)

		// The right key opens it and writes the check value.
		s, err = Open(path, testKey, Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = s.db.View(func(tx *bolt.Tx) error {
			if tx.Bucket(bucketMeta).Get(metaKeyCheck) == nil {
				t.Error("no check value written by the first Open with the right key")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		refused(t, path)
	})
	t.Run("one damaged credential is not a wrong key", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "aigw.db")
		s, err := Open(path, testKey, Options{})
		if err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, s)
		dropCheck(t, s)
		damageSecret(t, s, f.c1.ID)
		s.Close()
		s, err = Open(path, testKey, Options{})
		if err != nil {
			t.Fatalf("Open with one damaged credential: %v", err)
		}
		defer s.Close()
		d, err := s.Load()
		if err != nil {
			t.Fatalf("Load with one damaged credential: %v", err)
		}
		if len(d.Credentials) != 2 || d.BrokenCredentials[f.c1.ID] == "" {
			t.Errorf("Load = %d credentials, broken %v; want 2 and %s broken", len(d.Credentials), d.BrokenCredentials, f.c1.ID)
		}
	})
}

// damageSecret flips a byte of a credential's sealed secret, as a disk
// error or a bad edit would.
func damageSecret(t testing.TB, s *Store, id string) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		var rec credentialRecord
		if err := getJSON(tx.Bucket(bucketCredentials), []byte(id), &rec); err != nil {
			return err
		}
		rec.SealedSecret[len(rec.SealedSecret)-1] ^= 0xff
		return putJSON(tx.Bucket(bucketCredentials), []byte(id), &rec)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigw.db")
	s, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProvider(Provider{Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com"}); err != nil {
		t.Fatal(err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaVersion, u64(uint64(LatestSchema+1)))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := stateOf(t, path)

	s, err = Open(path, testKey, Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
	if !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Open: %v; want ErrNewerSchema", err)
	}
	if after := stateOf(t, path); after != before {
		t.Errorf("the newer database changed: before %+v, after %+v", before, after)
	}
}
