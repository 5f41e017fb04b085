package admin_test

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/internal/testkit"
	"github.com/aigw/aigw/store"
)

// env is a running admin API over a real bbolt file in t.TempDir().
type env struct {
	t       *testing.T
	dir     string
	master  []byte
	st      *store.Store
	tokens  *admin.Tokens
	clock   *clock
	srv     *httptest.Server
	reloads atomic.Int64
	// lastLoad is what the Reload hook read from the store, as the proxy would.
	lastLoad atomic.Pointer[store.Data]
	// reloadErr, when set, is what the Reload hook returns.
	reloadErr atomic.Pointer[error]
	logs      *testkit.SyncBuffer

	adminToken string
	client     *admin.Client // holds adminToken
}

// clock is the tokens' clock; it follows real time plus an offset.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func newMasterKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, store.MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// newEnv opens a fresh store, starts the admin API on 127.0.0.1 and issues
// an admin-scope token. On cleanup it stops the server, closes the store and
// checks that the file re-opens as a sound aigw database.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, admin.Options{})
}

// newEnvWith is newEnv with extra server options (Live, Metrics, Health).
func newEnvWith(t *testing.T, extra admin.Options) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), master: newMasterKey(t), clock: &clock{}, logs: &testkit.SyncBuffer{}}
	path := filepath.Join(e.dir, "aigw.db")
	st, err := store.Open(path, e.master, store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	e.st = st
	e.tokens = admin.NewTokens(st, e.master)
	admin.SetClock(e.tokens, e.clock.Now)
	srv := admin.New(admin.Options{
		Store:  st,
		Tokens: e.tokens,
		Reload: func() error {
			e.reloads.Add(1)
			d, err := st.Load()
			if err != nil {
				return err
			}
			e.lastLoad.Store(d)
			if p := e.reloadErr.Load(); p != nil {
				return *p
			}
			return nil
		},
		Logger:  slog.New(slog.NewTextHandler(e.logs, nil)),
		Live:    extra.Live,
		Metrics: extra.Metrics,
		Health:  extra.Health,
		Alerts:  extra.Alerts,
	})
	e.srv = httptest.NewServer(srv.Handler())
	if !strings.HasPrefix(e.srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server listens on %s, want 127.0.0.1", e.srv.URL)
	}
	t.Cleanup(func() {
		e.srv.Close()
		if err := st.Close(); err != nil {
			t.Errorf("store Close: %v", err)
		}
		re, err := store.Open(path, e.master, store.Options{LockTimeout: time.Second})
		if err != nil {
			t.Errorf("re-open %s: %v", path, err)
			return
		}
		if _, err := re.Load(); err != nil {
			t.Errorf("re-opened Load: %v", err)
		}
		re.Close()
	})
	e.adminToken = e.token(admin.ScopeAdmin)
	e.client = admin.NewClient(e.srv.URL, e.adminToken)
	return e
}

// token issues a token holding scopes, valid for an hour.
func (e *env) token(scopes ...string) string {
	e.t.Helper()
	_, signed, err := e.tokens.Issue("test", scopes, time.Hour)
	if err != nil {
		e.t.Fatalf("Issue(%v): %v", scopes, err)
	}
	return signed
}

// clientWith is a client presenting tok.
func (e *env) clientWith(tok string) *admin.Client { return admin.NewClient(e.srv.URL, tok) }

// response is a raw answer of the admin API.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errorBody decodes the {"error":{"message","field"}} body, failing the
// test when the answer is not such a JSON error.
func (r response) errorBody(t testing.TB) (message, field string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var eb struct {
		Error *struct {
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &eb); err != nil || eb.Error == nil || eb.Error.Message == "" {
		t.Fatalf("error body %q is not {\"error\":{\"message\":…}} (%v)", r.body, err)
	}
	return eb.Error.Message, eb.Error.Field
}

// do sends a raw request; tok "" sends no Authorization header.
func (e *env) do(method, path, tok, body string) response {
	e.t.Helper()
	auth := ""
	if tok != "" {
		auth = "Bearer " + tok
	}
	return e.doHeader(method, path, auth, body)
}

// doHeader sends a raw request with auth as its Authorization header ("" sends none).
func (e *env) doHeader(method, path, auth, body string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// snapshot is everything the admin API can change, as JSON, to prove that a
// refused request stored nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	var s struct {
		Providers   []store.Provider
		Credentials []store.Credential
		Keys        []store.Key
		Tokens      []store.AdminToken
	}
	var err error
	if s.Providers, err = e.st.Providers(); err != nil {
		e.t.Fatal(err)
	}
	if s.Credentials, err = e.st.AllCredentials(); err != nil {
		e.t.Fatal(err)
	}
	if s.Keys, _, err = e.st.Keys(store.KeyFilter{Limit: store.MaxPageLimit}); err != nil {
		e.t.Fatal(err)
	}
	if s.Tokens, err = e.st.Tokens(); err != nil {
		e.t.Fatal(err)
	}
	raw, err := json.Marshal(s)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(raw)
}

// fixture is an OpenAI provider with two credentials and a key over the
// first, created directly in the store (not counted as reloads).
type fixture struct {
	provider store.Provider
	cred     store.Credential // in the key's pool
	spare    store.Credential // in no pool
	key      store.Key
	secret   string // of key
}

const (
	credSecret    = "sk-CREDsecretVALUE-0123456789abcdef"
	spareSecret   = "sk-SPAREsecret-VALUE-fedcba98765432"
	refreshSecret = "rt-REFRESHtoken-00112233445566778899"
)

func (e *env) fixture() fixture {
	e.t.Helper()
	var f fixture
	var err error
	if f.provider, err = e.st.CreateProvider(store.Provider{Name: "openai", Type: admin.TypeOpenAI, BaseURL: "https://api.openai.com/v1"}); err != nil {
		e.t.Fatal(err)
	}
	if f.cred, err = e.st.CreateCredential(store.CredentialInput{Provider: "openai", Name: "main", Secret: credSecret}); err != nil {
		e.t.Fatal(err)
	}
	if f.spare, err = e.st.CreateCredential(store.CredentialInput{Provider: "openai", Name: "spare", Secret: spareSecret}); err != nil {
		e.t.Fatal(err)
	}
	if f.key, f.secret, err = e.st.CreateKey(store.KeyInput{Provider: "openai", Credentials: []string{f.cred.ID}, Name: "app"}); err != nil {
		e.t.Fatal(err)
	}
	return f
}

// wantAPIError asserts that err is an *admin.APIError with status (and
// field, when field is not "").
func wantAPIError(t testing.TB, err error, status int, field string) *admin.APIError {
	t.Helper()
	var ae *admin.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v (%T); want *admin.APIError %d", err, err, status)
	}
	if ae.Status != status {
		t.Fatalf("APIError.Status = %d (%q); want %d", ae.Status, ae.Message, status)
	}
	if field != "" && ae.Field != field {
		t.Fatalf("APIError.Field = %q (%q); want %q", ae.Field, ae.Message, field)
	}
	return ae
}

func ptr[T any](v T) *T { return &v }
