package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// testKey is the master key of every test database.
var testKey = bytes.Repeat([]byte{0x5a}, MasterKeySize)

// clock is a settable clock for Options.Now, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openTest opens a fresh database in t.TempDir() with a fixed clock. On
// cleanup it closes the store and re-opens the file to check that it is
// still a sound aigw database.
func openTest(t testing.TB) *Store {
	s, _ := openTestClock(t)
	return s
}

// openTestClock is openTest that also returns the store's clock.
func openTestClock(t testing.TB) (*Store, *clock) {
	t.Helper()
	clk := newClock()
	path := filepath.Join(t.TempDir(), "aigw.db")
	s, err := Open(path, testKey, Options{Now: clk.Now, LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkDatabase(t, path, testKey)
	})
	return s, clk
}

// checkDatabase re-opens path as a store and checks the page structure,
// the schema version and that every secret still unseals.
func checkDatabase(t testing.TB, path string, key []byte) {
	t.Helper()
	s, err := Open(path, key, Options{LockTimeout: time.Second})
	if err != nil {
		t.Errorf("re-open %s: %v", path, err)
		return
	}
	defer s.Close()
	checkIntegrity(t, s.db)
	if v, err := s.SchemaVersion(); err != nil || v != LatestSchema {
		t.Errorf("re-opened schema version = %d, %v; want %d", v, err, LatestSchema)
	}
	if _, err := s.Load(); err != nil {
		t.Errorf("re-opened Load: %v", err)
	}
	checkKeyListing(t, s)
}

// checkIntegrity runs bbolt's consistency check over the whole file.
func checkIntegrity(t testing.TB, db *bolt.DB) {
	t.Helper()
	err := db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Errorf("bbolt check of %s: %v", db.Path(), err)
	}
}

// fileState is what must not change when aigw refuses a file.
type fileState struct {
	sum   [sha256.Size]byte
	size  int64
	mtime time.Time
	mode  fs.FileMode
}

func stateOf(t testing.TB, path string) fileState {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileState{sum: sha256.Sum256(b), size: fi.Size(), mtime: fi.ModTime(), mode: fi.Mode()}
}

// wantField asserts that err is a *ValidationError naming field.
func wantField(t testing.TB, err error, field string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v (%T); want a *ValidationError for %q", err, err, field)
	}
	if ve.Field != field {
		t.Fatalf("ValidationError.Field = %q (%v); want %q", ve.Field, ve, field)
	}
}

func ptr[T any](v T) *T { return &v }

// fixture creates an OpenAI provider with two credentials (one OAuth) and
// an Anthropic provider with one, for the credential and key tests.
type fixture struct {
	openai, anthropic Provider
	c1, c2, c3        Credential
}

const (
	secret1  = "sk-FIRSTsecretVALUE-0123456789abcdef"
	secret2  = "oauth-ACCESStoken-fedcba9876543210"
	refresh2 = "rt-REFRESHtoken-00112233445566778899"
	secret3  = "sk-ant-THIRDsecret-aabbccddeeff0011"
)

func newFixture(t testing.TB, s *Store) fixture {
	t.Helper()
	var f fixture
	var err error
	if f.openai, err = s.CreateProvider(Provider{Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com/v1"}); err != nil {
		t.Fatal(err)
	}
	if f.anthropic, err = s.CreateProvider(Provider{Name: "anthropic", Type: TypeAnthropic, BaseURL: "https://api.anthropic.com"}); err != nil {
		t.Fatal(err)
	}
	if f.c1, err = s.CreateCredential(CredentialInput{Provider: "openai", Name: "main", Secret: secret1}); err != nil {
		t.Fatal(err)
	}
	exp := s.now().Add(time.Hour)
	if f.c2, err = s.CreateCredential(CredentialInput{Provider: "openai", Name: "oauth", Secret: secret2,
		OAuthTokenURL: "https://auth.example.com/token", OAuthRefreshToken: refresh2, OAuthClientID: "client-1", ExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	if f.c3, err = s.CreateCredential(CredentialInput{Provider: "anthropic", Secret: secret3}); err != nil {
		t.Fatal(err)
	}
	return f
}
