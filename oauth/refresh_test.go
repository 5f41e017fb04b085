package oauth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/store"
)

// tokenServer is a real OAuth token endpoint on loopback that hands out
// numbered access tokens for one valid refresh token.
type tokenServer struct {
	*httptest.Server
	mu       sync.Mutex
	refresh  string // the refresh token it accepts
	issued   int
	requests []string // form bodies received
	fail     atomic.Bool
}

func newTokenServer(t *testing.T, refresh string) *tokenServer {
	ts := &tokenServer{refresh: refresh}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		ts.mu.Lock()
		defer ts.mu.Unlock()
		ts.requests = append(ts.requests, r.PostForm.Encode())
		w.Header().Set("Content-Type", "application/json")
		if ts.fail.Load() || r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != ts.refresh {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "refresh token not valid"})
			return
		}
		ts.issued++
		next := "rt-rotated-" + string(rune('a'+ts.issued))
		ts.refresh = next
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "at-fresh-" + string(rune('a'+ts.issued)), "refresh_token": next, "expires_in": 3600, "token_type": "Bearer",
		})
	}))
	t.Cleanup(ts.Close)
	return ts
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	key := make([]byte, store.MasterKeySize)
	_, _ = rand.Read(key)
	st, err := store.Open(filepath.Join(t.TempDir(), "aigw.db"), key, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateProvider(store.Provider{Name: "g", Type: "gemini", BaseURL: "https://example.invalid"}); err != nil {
		t.Fatal(err)
	}
	return st
}

func addOAuth(t *testing.T, st *store.Store, tokenURL string, expires time.Time) store.Credential {
	t.Helper()
	c, err := st.CreateCredential(store.CredentialInput{Provider: "g", Secret: "at-initial-token", OAuthTokenURL: tokenURL,
		OAuthRefreshToken: "rt-initial", OAuthClientID: "client-123", ExpiresAt: &expires})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func secretOf(t *testing.T, st *store.Store, id string) (access, refresh string, expires *time.Time) {
	t.Helper()
	d, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Credentials {
		if c.ID == id {
			return c.Secret, c.RefreshToken, c.OAuth.ExpiresAt
		}
	}
	t.Fatalf("credential %s gone", id)
	return
}

func TestRefreshesBeforeExpiryAndStoresRotatedTokens(t *testing.T) {
	ts := newTokenServer(t, "rt-initial")
	st := openStore(t)
	soon := addOAuth(t, st, ts.URL+"/token", time.Now().Add(2*time.Minute))
	later := addOAuth(t, st, ts.URL+"/token", time.Now().Add(2*time.Hour))
	var reloads atomic.Int32
	r := New(st, func() error { reloads.Add(1); return nil }, nil)
	r.check(t.Context(), "")

	access, refresh, expires := secretOf(t, st, soon.ID)
	if access != "at-fresh-b" || refresh != "rt-rotated-b" {
		t.Fatalf("after refresh: access %q refresh %q", access, refresh)
	}
	if expires == nil || time.Until(*expires) < 59*time.Minute {
		t.Fatalf("new expiry %v, want about an hour from now", expires)
	}
	if a, _, _ := secretOf(t, st, later.ID); a != "at-initial-token" {
		t.Errorf("a token valid for two more hours was refreshed: %q", a)
	}
	if reloads.Load() != 1 {
		t.Errorf("proxy reloaded %d times, want 1", reloads.Load())
	}
	if len(ts.requests) != 1 || !strings.Contains(ts.requests[0], "client_id=client-123") || !strings.Contains(ts.requests[0], "grant_type=refresh_token") {
		t.Errorf("token requests %v", ts.requests)
	}
	if c, _ := st.Credential(soon.ID); c.Preview == soon.Preview {
		t.Errorf("preview %q did not follow the new token", c.Preview)
	}
}

func TestKickRefreshesARejectedCredentialWithoutWaiting(t *testing.T) {
	ts := newTokenServer(t, "rt-initial")
	st := openStore(t)
	c := addOAuth(t, st, ts.URL+"/token", time.Now().Add(2*time.Hour))
	reloaded := make(chan struct{}, 1)
	r := New(st, func() error { reloaded <- struct{}{}; return nil }, nil)
	r.Every = time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	start := time.Now()
	r.Kick(c.ID)
	select {
	case <-reloaded:
	case <-time.After(5 * time.Second):
		t.Fatal("a kicked credential was not refreshed")
	}
	if a, _, _ := secretOf(t, st, c.ID); a != "at-fresh-b" {
		t.Fatalf("access token %q", a)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("refresh took %v", d)
	}
	cancel()
	<-done
}

func TestFailedRefreshBacksOffAndKeepsTheOldToken(t *testing.T) {
	ts := newTokenServer(t, "rt-initial")
	ts.fail.Store(true)
	st := openStore(t)
	c := addOAuth(t, st, ts.URL+"/token", time.Now().Add(time.Minute))
	r := New(st, func() error { return nil }, nil)
	now := time.Now()
	r.now = func() time.Time { return now }
	r.check(t.Context(), "")
	r.check(t.Context(), "") // within the back-off: no second request
	if len(ts.requests) != 1 {
		t.Fatalf("%d token requests during the back-off", len(ts.requests))
	}
	if a, _, _ := secretOf(t, st, c.ID); a != "at-initial-token" {
		t.Fatalf("a failed refresh replaced the token: %q", a)
	}
	ts.fail.Store(false)
	now = now.Add(31 * time.Second)
	r.check(t.Context(), "")
	if a, _, _ := secretOf(t, st, c.ID); a != "at-fresh-b" {
		t.Fatalf("after the back-off: %q", a)
	}
}

func TestAPIKeyCredentialsAreLeftAlone(t *testing.T) {
	ts := newTokenServer(t, "rt-initial")
	st := openStore(t)
	c, err := st.CreateCredential(store.CredentialInput{Provider: "g", Secret: "AIza-plain-api-key-0000"})
	if err != nil {
		t.Fatal(err)
	}
	r := New(st, nil, nil)
	r.check(t.Context(), c.ID)
	if len(ts.requests) != 0 {
		t.Fatal("an API-key credential was sent to a token endpoint")
	}
}
