package oauth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
// numbered access tokens for the one refresh token it accepts, rotating
// that refresh token on every grant. fault, when set, answers instead.
type tokenServer struct {
	*httptest.Server
	mu       sync.Mutex
	refresh  string // the refresh token it accepts
	issued   int
	requests []string // form bodies received
	calls    atomic.Int32
	gate     chan struct{} // when set, grants wait for it to close
	fault    func(w http.ResponseWriter, r *http.Request)
}

func newTokenServer(t *testing.T, refresh string) *tokenServer {
	ts := &tokenServer{refresh: refresh}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.calls.Add(1)
		_ = r.ParseForm()
		ts.mu.Lock()
		ts.requests = append(ts.requests, r.PostForm.Encode())
		fault, gate := ts.fault, ts.gate
		ts.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if fault != nil {
			fault(w, r)
			return
		}
		ts.mu.Lock()
		defer ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != ts.refresh {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "refresh token not valid"})
			return
		}
		ts.issued++
		next := fmt.Sprintf("rt-rotated-%d-%s", ts.issued, strings.Repeat("r", 20))
		ts.refresh = next
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("at-fresh-%d-%s", ts.issued, strings.Repeat("a", 20)), "refresh_token": next, "expires_in": 3600, "token_type": "Bearer",
		})
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) setFault(f func(w http.ResponseWriter, r *http.Request)) {
	ts.mu.Lock()
	ts.fault = f
	ts.mu.Unlock()
}

const (
	initialAccess  = "at-initial-token-0123456789"
	initialRefresh = "rt-initial-0123456789abcdef"
)

func openStore(t *testing.T) (*store.Store, string, []byte) {
	t.Helper()
	key := make([]byte, store.MasterKeySize)
	_, _ = rand.Read(key)
	path := filepath.Join(t.TempDir(), "aigw.db")
	st, err := store.Open(path, key, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateProvider(store.Provider{Name: "g", Type: "gemini", BaseURL: "https://example.invalid"}); err != nil {
		t.Fatal(err)
	}
	return st, path, key
}

func addOAuth(t *testing.T, st *store.Store, tokenURL string, expires time.Time) store.Credential {
	t.Helper()
	c, err := st.CreateCredential(store.CredentialInput{Provider: "g", Secret: initialAccess, OAuthTokenURL: tokenURL,
		OAuthRefreshToken: initialRefresh, OAuthClientID: "client-123", ExpiresAt: &expires})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func secretOf(t *testing.T, st *store.Store, id string) store.Credential {
	t.Helper()
	c, err := st.OAuthCredential(id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newRefresher is a Refresher over st whose log goes to the returned buffer.
func newRefresher(t *testing.T, st *store.Store, reload func() error) (*Refresher, *syncBuffer) {
	log := &syncBuffer{}
	var hook func(string) error
	if reload != nil {
		hook = func(string) error { return reload() }
	}
	r := &Refresher{Store: st, Reload: hook, Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Timeout: 2 * time.Second}
	t.Cleanup(r.Close)
	return r, log
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func hash(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

func TestRefreshesBeforeExpiryAndStoresRotatedTokens(t *testing.T) {
	ts := newTokenServer(t, initialRefresh)
	st, _, _ := openStore(t)
	soon := addOAuth(t, st, ts.URL+"/token", time.Now().Add(2*time.Minute))
	later := addOAuth(t, st, ts.URL+"/token", time.Now().Add(2*time.Hour))
	var reloads atomic.Int32
	r, _ := newRefresher(t, st, func() error { reloads.Add(1); return nil })
	r.once.Do(r.init)
	r.check(t.Context())

	c := secretOf(t, st, soon.ID)
	if !strings.HasPrefix(c.Secret, "at-fresh-1-") || !strings.HasPrefix(c.RefreshToken, "rt-rotated-1-") {
		t.Fatalf("after refresh: access %q refresh %q", c.Secret, c.RefreshToken)
	}
	if e := c.OAuth.ExpiresAt; e == nil || time.Until(*e) < 59*time.Minute {
		t.Fatalf("new expiry %v, want about an hour from now", e)
	}
	if c.OAuth.RefreshState != store.RefreshOK || c.OAuth.LastRefreshError != "" || c.OAuth.LastRefreshAt == nil || time.Since(*c.OAuth.LastRefreshAt) > time.Minute {
		t.Errorf("refresh outcome not recorded: %+v", c.OAuth)
	}
	if a := secretOf(t, st, later.ID); a.Secret != initialAccess || a.OAuth.LastRefreshAt != nil {
		t.Errorf("a token valid for two more hours was refreshed: %q", a.Secret)
	}
	if reloads.Load() != 1 {
		t.Errorf("proxy reloaded %d times, want 1", reloads.Load())
	}
	if len(ts.requests) != 1 || !strings.Contains(ts.requests[0], "client_id=client-123") || !strings.Contains(ts.requests[0], "grant_type=refresh_token") {
		t.Errorf("token requests %v", ts.requests)
	}
	if got, _ := st.Credential(soon.ID); got.Preview == soon.Preview {
		t.Errorf("preview %q did not follow the new token", got.Preview)
	}
}

// Fifty requests refused at once with the same expired token make one
// token request; each of them learns of the new token.
func TestConcurrentRejectionsShareOneTokenRequest(t *testing.T) {
	ts := newTokenServer(t, initialRefresh)
	ts.gate = make(chan struct{})
	st, _, _ := openStore(t)
	c := addOAuth(t, st, ts.URL+"/token", time.Now().Add(time.Hour))
	var reloads atomic.Int32
	r, _ := newRefresher(t, st, func() error { reloads.Add(1); return nil })

	const n = 50
	errs := make(chan error, n)
	var started sync.WaitGroup
	for range n {
		started.Add(1)
		go func() {
			started.Done()
			errs <- r.Rejected(t.Context(), c.ID, hash(initialAccess))
		}()
	}
	started.Wait()
	time.Sleep(50 * time.Millisecond) // most of them join the refresh under way
	close(ts.gate)
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("a waiting request got %v", err)
		}
	}
	if got := ts.calls.Load(); got != 1 {
		t.Fatalf("%d token requests for one expiry, want 1", got)
	}
	if a := secretOf(t, st, c.ID).Secret; !strings.HasPrefix(a, "at-fresh-1-") {
		t.Fatalf("access token %q", a)
	}
	// A straggler refused with the old token learns of the new one without
	// a token request.
	if err := r.Rejected(t.Context(), c.ID, hash(initialAccess)); err != nil {
		t.Fatal(err)
	}
	if got := ts.calls.Load(); got != 1 {
		t.Fatalf("a request refused with a token already replaced made a token request (%d)", got)
	}
	// Refused with the new token: that one is refreshed in turn.
	if err := r.Rejected(t.Context(), c.ID, hash(secretOf(t, st, c.ID).Secret)); err != nil {
		t.Fatal(err)
	}
	if got := ts.calls.Load(); got != 2 || !strings.HasPrefix(secretOf(t, st, c.ID).Secret, "at-fresh-2-") {
		t.Fatalf("a refused new token was not refreshed: %d token requests", got)
	}
}

func TestFailedRefreshIsRecordedAndNotRepeatedAtOnce(t *testing.T) {
	ts := newTokenServer(t, "some-other-refresh-token")
	st, _, _ := openStore(t)
	c := addOAuth(t, st, ts.URL+"/token", time.Now().Add(time.Minute))
	r, _ := newRefresher(t, st, func() error { return nil })
	err := r.Rejected(t.Context(), c.ID, hash(initialAccess))
	var oe *Error
	if !errors.As(err, &oe) || oe.State != store.RefreshInvalidGrant || !strings.Contains(oe.Msg, "invalid_grant") {
		t.Fatalf("refresh with a refused refresh token: %v", err)
	}
	got := secretOf(t, st, c.ID)
	if got.Secret != initialAccess || got.OAuth.RefreshState != store.RefreshInvalidGrant || got.OAuth.LastRefreshError != oe.Msg || got.OAuth.LastRefreshAt == nil {
		t.Fatalf("after a failed refresh: %q %+v", got.Secret, got.OAuth)
	}
	// The stragglers of the same burst get the same answer, without a
	// token request; the operator's refresh goes to the endpoint.
	if err := r.Rejected(t.Context(), c.ID, hash(initialAccess)); !errors.As(err, &oe) || oe.State != store.RefreshInvalidGrant {
		t.Fatalf("second refusal: %v", err)
	}
	if n := ts.calls.Load(); n != 1 {
		t.Fatalf("%d token requests within the failure's window", n)
	}
	if err := r.Refresh(t.Context(), c.ID); err == nil {
		t.Fatal("the forced refresh succeeded with a bad refresh token")
	}
	if n := ts.calls.Load(); n != 2 {
		t.Fatalf("the operator's refresh made %d token requests, want 1 more", n-1)
	}
	// The periodic check waits out the back-off.
	r.check(t.Context())
	if n := ts.calls.Load(); n != 2 {
		t.Fatal("the periodic check ignored the back-off")
	}
	// A new refresh token (the operator's fix) works at the next request.
	rt := "some-other-refresh-token"
	if _, err := st.UpdateCredential(c.ID, store.CredentialPatch{OAuthRefreshToken: &rt}); err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(t.Context(), c.ID); err != nil {
		t.Fatal(err)
	}
	if got := secretOf(t, st, c.ID); got.OAuth.RefreshState != store.RefreshOK || got.OAuth.LastRefreshError != "" {
		t.Errorf("after the fix: %+v", got.OAuth)
	}
}

// Each fault of the token endpoint gives the credential a state and a
// one-line message without any secret, and leaves no secret in the log.
func TestTokenEndpointFaults(t *testing.T) {
	cases := []struct {
		name      string
		fault     func(w http.ResponseWriter, r *http.Request)
		state     string
		msg       string // in the message
		refreshed bool   // a new access token was taken
	}{
		{"timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			store.RefreshTimeout, "did not answer within 300ms", false},
		{"invalid_grant echoing the refresh token", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"token %s was revoked\nat %s"}`, r.PostForm.Get("refresh_token"), initialAccess)
		}, store.RefreshInvalidGrant, "400 Bad Request (invalid_grant: token [redacted] was revoked at [redacted])", false},
		{"invalid_client", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
		}, store.RefreshRefused, "401 Unauthorized (invalid_client)", false},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "<html>login here "+initialRefresh+"</html>")
		}, store.RefreshBadResponse, "200 OK with a body that is not JSON", false},
		{"5xx not JSON", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(502)
			fmt.Fprint(w, "bad gateway")
		}, store.RefreshRefused, "502 Bad Gateway", false},
		{"no access_token", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"token_type":"Bearer","expires_in":3600}`)
		}, store.RefreshBadResponse, "without an access_token", false},
		{"huge body", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"access_token":"at-huge-0123456789abcdef","pad":"`)
			pad := []byte(strings.Repeat("x", 64<<10))
			for range 160 { // 10 MiB, or until the reader hangs up
				if _, err := w.Write(pad); err != nil {
					return
				}
			}
			fmt.Fprint(w, `"}`)
		}, store.RefreshBadResponse, "larger than 64 KiB", false},
		{"unusable token", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"access_token":"at with spaces 0123456789","expires_in":3600}`)
		}, store.RefreshBadResponse, "unusable token", false},
		{"no expires_in", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"access_token":"at-noexpiry-0123456789abcdef","refresh_token":"rt-noexpiry-0123456789abcdef"}`)
		}, store.RefreshNoExpiry, "gave no expires_in", true},
		{"expires_in absurdly large", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"access_token":"at-forever-0123456789abcdef","expires_in":99999999999}`)
		}, store.RefreshNoExpiry, "expires_in 1e+11 is not a lifetime", true},
		{"expires_in as a string", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"access_token":"at-string-0123456789abcdef","expires_in":"3600"}`)
		}, store.RefreshOK, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTokenServer(t, initialRefresh)
			ts.setFault(tc.fault)
			st, _, _ := openStore(t)
			before := time.Now().Add(time.Minute)
			c := addOAuth(t, st, ts.URL+"/token?tenant=x", before)
			r, log := newRefresher(t, st, func() error { return nil })
			if tc.state == store.RefreshTimeout {
				r.Timeout = 300 * time.Millisecond
			}
			start := time.Now()
			err := r.Rejected(t.Context(), c.ID, hash(initialAccess))
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the refresh took %v", d)
			}
			got := secretOf(t, st, c.ID)
			o := got.OAuth
			if o.RefreshState != tc.state || !strings.Contains(o.LastRefreshError, tc.msg) || strings.ContainsAny(o.LastRefreshError, "\n\r") || len(o.LastRefreshError) > 320 {
				t.Errorf("recorded %q: %q; want %q containing %q", o.RefreshState, o.LastRefreshError, tc.state, tc.msg)
			}
			if tc.refreshed {
				if err != nil || got.Secret == initialAccess {
					t.Fatalf("a usable token was not taken: %v", err)
				}
				if tc.state == store.RefreshNoExpiry && o.ExpiresAt != nil {
					t.Errorf("expiry %v, want unknown", o.ExpiresAt)
				}
				if tc.state == store.RefreshOK && (o.ExpiresAt == nil || time.Until(*o.ExpiresAt) < 59*time.Minute) {
					t.Errorf("expiry %v, want in an hour", o.ExpiresAt)
				}
			} else {
				var oe *Error
				if !errors.As(err, &oe) || oe.State != tc.state || oe.Msg != o.LastRefreshError {
					t.Fatalf("error %v, want state %s", err, tc.state)
				}
				if got.Secret != initialAccess || o.ExpiresAt == nil || o.ExpiresAt.Sub(before).Abs() > time.Second {
					t.Errorf("a failed refresh changed the credential: %q %v", got.Secret, o.ExpiresAt)
				}
			}
			logged := log.String()
			if !strings.Contains(logged, c.ID) {
				t.Errorf("the log does not name the credential:\n%s", logged)
			}
			for _, secret := range []string{initialAccess, initialRefresh, got.Secret, got.RefreshToken, "at-huge-0123456789abcdef", "tenant=x"} {
				for _, where := range []string{logged, o.LastRefreshError, fmt.Sprint(err)} {
					if strings.Contains(where, secret) {
						t.Errorf("%q shows in %q", secret, where)
					}
				}
			}
		})
	}
}

func TestUnreachableTokenEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	st, _, _ := openStore(t)
	c := addOAuth(t, st, "http://"+addr+"/token", time.Now().Add(time.Minute))
	r, _ := newRefresher(t, st, nil)
	err = r.Refresh(t.Context(), c.ID)
	var oe *Error
	if !errors.As(err, &oe) || oe.State != store.RefreshUnreachable || !strings.Contains(oe.Msg, "connection refused") || strings.Contains(oe.Msg, "/token") {
		t.Fatalf("unreachable endpoint: %v", err)
	}
}

// The rotated refresh token is what the next refresh sends, after the
// database was closed and opened again.
func TestRotatedRefreshTokenSurvivesAReopen(t *testing.T) {
	ts := newTokenServer(t, initialRefresh)
	st, path, key := openStore(t)
	c := addOAuth(t, st, ts.URL+"/token", time.Now().Add(time.Minute))
	r, _ := newRefresher(t, st, nil)
	if err := r.Refresh(t.Context(), c.ID); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(path, key, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	// The endpoint now accepts only the rotated token.
	r2, _ := newRefresher(t, st2, nil)
	if err := r2.Refresh(t.Context(), c.ID); err != nil {
		t.Fatalf("refresh after reopening: %v (requests %v)", err, ts.requests)
	}
	if !strings.Contains(ts.requests[1], "refresh_token=rt-rotated-1-") {
		t.Errorf("second refresh sent %q", ts.requests[1])
	}
}

// A waiter that gives up does not hold the refresh; the refresh itself is
// bounded by Timeout, and Close ends what is under way.
func TestWaitersGiveUpAndRefreshesEnd(t *testing.T) {
	ts := newTokenServer(t, initialRefresh)
	ts.gate = make(chan struct{}) // never opened: the endpoint hangs
	st, _, _ := openStore(t)
	c := addOAuth(t, st, ts.URL+"/token", time.Now().Add(time.Minute))
	r, _ := newRefresher(t, st, nil)
	r.Timeout = time.Hour
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := r.Rejected(ctx, c.ID, hash(initialAccess)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a waiter held %v past its deadline", d)
	}
	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the refresh under way")
	}
	if err := r.Refresh(t.Context(), c.ID); err == nil || !strings.Contains(err.Error(), "stopping") {
		t.Errorf("refresh after Close: %v", err)
	}
}

func TestAPIKeyCredentialsAreLeftAlone(t *testing.T) {
	ts := newTokenServer(t, initialRefresh)
	st, _, _ := openStore(t)
	c, err := st.CreateCredential(store.CredentialInput{Provider: "g", Secret: "AIza-plain-api-key-0000"})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := newRefresher(t, st, nil)
	r.once.Do(r.init)
	r.check(t.Context())
	var ve *store.ValidationError
	if err := r.Refresh(t.Context(), c.ID); !errors.As(err, &ve) || ve.Field != "kind" {
		t.Errorf("refreshing an API key: %v", err)
	}
	if len(ts.requests) != 0 {
		t.Fatal("an API-key credential was sent to a token endpoint")
	}
}
