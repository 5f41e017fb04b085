package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type countingWriter struct {
	w *os.File
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func backupProvider(i int) Provider {
	return Provider{Name: fmt.Sprintf("p%05d", i), Type: TypeAnthropic, BaseURL: fmt.Sprintf("https://h%d.example.com", i),
		Headers: []string{fmt.Sprintf("X-Seq: %d", i)}}
}

func TestBackupWhileWriting(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)

	var created atomic.Int64
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := s.CreateProvider(backupProvider(i)); err != nil {
				done <- err
				return
			}
			created.Store(int64(i + 1))
		}
	}()
	writerErr := sync.OnceValue(func() error {
		close(stop)
		return <-done
	})
	defer writerErr()

	deadline := time.Now().Add(10 * time.Second)
	for created.Load() < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("the writer created only %d providers in 10s", created.Load())
		}
		time.Sleep(time.Millisecond)
	}
	committed := created.Load()

	path := filepath.Join(t.TempDir(), "backup.db")
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cw := &countingWriter{w: out}
	reported := int64(-1)
	if err := s.Backup(cw, func(n int64) { reported = n }); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := writerErr(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if reported != cw.n || cw.n != fi.Size() {
		t.Errorf("size callback %d, bytes written %d, file size %d; want all equal", reported, cw.n, fi.Size())
	}

	// The backup is a sound aigw database under the same master key...
	checkDatabase(t, path, testKey)
	b, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatalf("open the backup: %v", err)
	}
	defer b.Close()
	d, err := b.Load()
	if err != nil {
		t.Fatalf("Load of the backup: %v", err)
	}
	// ...holding what existed before the writer started, secrets included...
	secrets := map[string]string{}
	for _, c := range d.Credentials {
		secrets[c.ID] = c.Secret
	}
	if secrets[f.c1.ID] != secret1 || secrets[f.c3.ID] != secret3 {
		t.Errorf("backup credentials = %v; want the secrets to unseal", secrets)
	}
	// ...and a complete prefix of the concurrent writes, at least as long as
	// what was committed before Backup began.
	var n int
	for _, p := range d.Providers {
		if p.Name == "openai" || p.Name == "anthropic" {
			continue
		}
		want := backupProvider(n)
		if p.Name != want.Name || p.BaseURL != want.BaseURL || !slices.Equal(p.Headers, want.Headers) ||
			!slices.Equal(p.AuthHeaders, DefaultAuthHeaders(TypeAnthropic)) || p.CreatedAt.IsZero() {
			t.Fatalf("backup provider #%d = %+v; want a complete %+v", n, p, want)
		}
		n++
	}
	if int64(n) < committed {
		t.Errorf("backup holds %d written providers; %d were committed before it started", n, committed)
	}
	if final := created.Load(); int64(n) > final {
		t.Errorf("backup holds %d written providers; only %d were ever committed", n, final)
	}
	t.Logf("backup holds %d of %d providers written (%d before it started)", n, created.Load(), committed)
}

func TestBackupWriterError(t *testing.T) {
	s := openTest(t)
	newFixture(t, s)
	boom := errors.New("disk full")
	// bbolt's WriteTo flattens the writer's error into text, so only its
	// presence can be checked, not errors.Is(err, boom).
	if err := s.Backup(failingWriter{boom}, nil); err == nil {
		t.Error("Backup to a failing writer reported success")
	}
	// The store keeps working.
	if _, err := s.CreateProvider(Provider{Name: "gemini", Type: TypeGemini, BaseURL: "https://generativelanguage.googleapis.com"}); err != nil {
		t.Errorf("CreateProvider after a failed backup: %v", err)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestLoad(t *testing.T) {
	s, clk := openTestClock(t)
	f := newFixture(t, s)
	k, secret, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID, f.c2.ID}, Limits: Limits{RPM: 5}})
	if err != nil {
		t.Fatal(err)
	}
	exp := clk.Now().Add(time.Minute)
	k2, keySecret2, err := s.CreateKey(KeyInput{Provider: "anthropic", Credentials: []string{f.c3.ID}, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)

	d, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	providers, _ := s.Providers()
	if !reflect.DeepEqual(d.Providers, providers) {
		t.Errorf("Load providers = %+v; want %+v", d.Providers, providers)
	}
	want := map[string][2]string{f.c1.ID: {secret1, ""}, f.c2.ID: {secret2, refresh2}, f.c3.ID: {secret3, ""}}
	if len(d.Credentials) != len(want) {
		t.Errorf("Load has %d credentials; want %d", len(d.Credentials), len(want))
	}
	for _, c := range d.Credentials {
		if got := [2]string{c.Secret, c.RefreshToken}; got != want[c.ID] {
			t.Errorf("credential %s unsealed to %q; want %q", c.ID, got, want[c.ID])
		}
		public, _ := s.Credential(c.ID)
		c.Secret, c.RefreshToken = "", ""
		if !reflect.DeepEqual(c, public) {
			t.Errorf("Load credential %+v differs from Credential() %+v beyond its secrets", c, public)
		}
	}
	byID := map[string]Key{}
	for _, key := range d.Keys {
		byID[key.ID] = key
	}
	if got := byID[k.ID]; got.Hash != HashKey([]byte(secret)) || got.Status != KeyActive || got.RPM != 5 {
		t.Errorf("Load key %s = %+v; want its hash, active, rpm 5", k.ID, got)
	}
	if got := byID[k2.ID]; got.Hash != HashKey([]byte(keySecret2)) || got.Status != KeyExpired {
		t.Errorf("Load key %s = %+v; want its hash, expired", k2.ID, got)
	}
}

// TestLoadIsOneConsistentView runs Load while another goroutine keeps
// creating and tearing down provider → credential → key chains: a snapshot
// must never hold a key whose credential or provider is missing.
func TestLoadIsOneConsistentView(t *testing.T) {
	s := openTest(t)
	const rounds = 15
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			for i := range rounds {
				name := fmt.Sprintf("p%03d", i)
				if _, err := s.CreateProvider(Provider{Name: name, Type: TypeOpenAI, BaseURL: "https://api.example.com"}); err != nil {
					return err
				}
				c, err := s.CreateCredential(CredentialInput{Provider: name, Secret: fmt.Sprintf("sk-round-%03d-0000000000", i)})
				if err != nil {
					return err
				}
				k, _, err := s.CreateKey(KeyInput{Provider: name, Credentials: []string{c.ID}})
				if err != nil {
					return err
				}
				if _, err := s.RevokeKey(k.ID); err != nil {
					return err
				}
				if err := s.DeleteCredential(c.ID); err != nil {
					return err
				}
				if err := s.DeleteProvider(name); err != nil {
					return err
				}
			}
			return nil
		}()
	}()

	loads := 0
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("writer: %v", err)
			}
			if loads == 0 {
				t.Log("the writer finished before any Load ran")
			}
			d, err := s.Load()
			if err != nil || len(d.Providers)+len(d.Credentials)+len(d.Keys) != 0 {
				t.Errorf("final Load = %+v, %v; want empty", d, err)
			}
			return
		default:
		}
		d, err := s.Load()
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		loads++
		providers := map[string]bool{}
		for _, p := range d.Providers {
			providers[p.Name] = true
		}
		creds := map[string]bool{}
		for _, c := range d.Credentials {
			creds[c.ID] = true
			if !providers[c.Provider] {
				t.Fatalf("snapshot has credential %s of missing provider %s", c.ID, c.Provider)
			}
			if want := fmt.Sprintf("sk-round-%s-0000000000", c.Provider[1:]); c.Secret != want {
				t.Fatalf("snapshot credential %s secret %q; want %q", c.ID, c.Secret, want)
			}
		}
		for _, k := range d.Keys {
			if !providers[k.Provider] {
				t.Fatalf("snapshot has key %s of missing provider %s", k.ID, k.Provider)
			}
			if k.Status == KeyActive && len(k.Credentials) == 0 {
				t.Fatalf("snapshot has active key %s with an empty pool", k.ID)
			}
			for _, id := range k.Credentials {
				if !creds[id] {
					t.Fatalf("snapshot has key %s whose credential %s is missing", k.ID, id)
				}
			}
		}
	}
}
