package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/testkit"
	"github.com/aigw/aigw/proxytest"
)

// liveTokenServer is a real OAuth token endpoint on loopback: it accepts
// one refresh token at a time and rotates it with every grant.
type liveTokenServer struct {
	*httptest.Server
	mu      sync.Mutex
	refresh string
	issued  int
	calls   atomic.Int32
	fail    atomic.Bool
}

func newLiveTokenServer(t *testing.T, refresh string) *liveTokenServer {
	ts := &liveTokenServer{refresh: refresh}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.calls.Add(1)
		ts.mu.Lock()
		defer ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if ts.fail.Load() || r.FormValue("refresh_token") != ts.refresh {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"refresh token %s was revoked"}`, r.FormValue("refresh_token"))
			return
		}
		ts.issued++
		ts.refresh = fmt.Sprintf("rt-rotated-%d-0123456789abcdef", ts.issued)
		fmt.Fprintf(w, `{"access_token":"at-live-%d-0123456789abcdef","refresh_token":%q,"expires_in":7200}`, ts.issued, ts.refresh)
	}))
	t.Cleanup(ts.Close)
	return ts
}

const (
	cliExpiredToken = "at-expired-0123456789abcdef"
	cliRefreshToken = "rt-initial-0123456789abcdef"
)

// The user's path with an OAuth credential: add it with an expired
// token, send a request through a key without retries (it succeeds after
// the refresh), refresh it by hand, read its state in show and list, see
// a failed refresh there, and restart with the rotated refresh token.
func TestOAuthCredentialFromTheCLI(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	fake.Program(proxytest.Rule{Credential: cliExpiredToken, Status: 401})
	ts := newLiveTokenServer(t, cliRefreshToken)
	log := &testkit.SyncBuffer{}
	dir := t.TempDir()
	g, err := tryStartGatewayLogged(t, dir, false, log)
	if err != nil {
		t.Fatal(err)
	}
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", fake.URL)
	var cred idOnly
	g.okJSON(t, &cred, "credential", "add", "--provider", "openai", "--secret", cliExpiredToken, "--name", "agent",
		"--oauth-token-url", ts.URL+"/oauth/token", "--oauth-refresh-token", cliRefreshToken, "--oauth-client-id", "cli-client",
		"--expires-at", time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
	var key struct{ Secret string }
	g.okJSON(t, &key, "key", "create", "--provider", "openai", "--credentials", cred.ID, "--max-retries", "0")

	// The request that meets the expired token is answered all the same.
	if r := post(t, "http://"+g.proxyAddr+"/openai/v1/chat/completions", "Bearer "+key.Secret, chatJSON); r.status != 200 {
		t.Fatalf("request with an expired OAuth token: %d %s", r.status, r.body)
	}
	if n := ts.calls.Load(); n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}
	show := g.ok(t, "credential", "show", cred.ID)
	for name, want := range map[string]string{"refresh_result": "ok", "oauth_client_id": "cli-client",
		"last_refresh": time.Now().Format("2006-01-02"), "token_expires": time.Now().Add(2 * time.Hour).Format("2006-01-02")} {
		if got := showField(show, name); !strings.HasPrefix(got, want) {
			t.Errorf("credential show: %s is %q, want %q:\n%s", name, got, want, show)
		}
	}

	// By hand: the new expiry is printed; -o json prints the credential.
	out := g.ok(t, "credential", "refresh", cred.ID)
	if !strings.HasPrefix(out, cred.ID+": access token refreshed; it expires "+time.Now().Add(2*time.Hour).Format("2006-01-02")) {
		t.Errorf("credential refresh printed %q", out)
	}
	var refreshed struct {
		ID    string `json:"id"`
		OAuth struct {
			ExpiresAt     time.Time `json:"expires_at"`
			LastRefreshAt time.Time `json:"last_refresh_at"`
			RefreshState  string    `json:"refresh_state"`
		} `json:"oauth"`
		Health struct{ State string } `json:"health"`
	}
	raw := g.ok(t, "credential", "refresh", cred.ID, "-o", "json")
	mustJSON(t, raw, &refreshed)
	if refreshed.ID != cred.ID || refreshed.OAuth.RefreshState != "ok" || time.Until(refreshed.OAuth.ExpiresAt) < 119*time.Minute ||
		time.Since(refreshed.OAuth.LastRefreshAt) > time.Minute || refreshed.Health.State != "healthy" {
		t.Errorf("credential refresh -o json: %s", raw)
	}
	if n := ts.calls.Load(); n != 3 {
		t.Errorf("%d token requests after two refreshes by hand, want 3", n)
	}
	if out := g.ok(t, "credential", "refresh", cred.ID, "-o", "id"); out != cred.ID+"\n" {
		t.Errorf("credential refresh -o id: %q", out)
	}

	// A refresh that fails: exit 1 with the reason on one line; show and
	// list keep it.
	ts.fail.Store(true)
	r := g.cli(t, "", nil, "credential", "refresh", cred.ID)
	if r.code != 1 || !strings.Contains(r.stderr, "refreshing credential "+cred.ID+" failed: token endpoint answered 400 Bad Request (invalid_grant: refresh token [redacted] was revoked)") ||
		strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
		t.Errorf("failed refresh: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if show := g.ok(t, "credential", "show", cred.ID); !strings.HasPrefix(showField(show, "refresh_result"), "invalid_grant: token endpoint answered 400") {
		t.Errorf("credential show after a failed refresh:\n%s", show)
	}
	if list := g.ok(t, "credential", "list"); !strings.Contains(list, "oauth (invalid_grant)") {
		t.Errorf("credential list after a failed refresh:\n%s", list)
	}
	var listed []struct {
		OAuth map[string]any `json:"oauth"`
	}
	g.okJSON(t, &listed, "credential", "list")
	if len(listed) != 1 || listed[0].OAuth["refresh_state"] != "invalid_grant" || listed[0].OAuth["last_refresh_error"] == nil || listed[0].OAuth["last_refresh_at"] == nil {
		t.Errorf("credential list -o json: %+v", listed)
	}
	ts.fail.Store(false)

	// Not for an API key, nor an unknown id.
	var plain idOnly
	g.okJSON(t, &plain, "credential", "add", "--provider", "openai", "--secret", "sk-plain-api-key-0000000")
	if r := g.cli(t, "", nil, "credential", "refresh", plain.ID); r.code != 1 || !strings.Contains(r.stderr, "only OAuth credentials have a token to refresh") {
		t.Errorf("refresh of an API key: exit %d %q", r.code, r.stderr)
	}
	if r := g.cli(t, "", nil, "credential", "refresh", "cred_nope"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("refresh of an unknown id: exit %d %q", r.code, r.stderr)
	}

	// After a restart the rotated refresh token is the one sent (the
	// endpoint accepts no other).
	g.stop(t)
	g2 := startGateway(t, dir)
	if out := g2.ok(t, "credential", "refresh", cred.ID); !strings.Contains(out, "access token refreshed") {
		t.Errorf("refresh after a restart: %q", out)
	}

	logged := log.String()
	if !strings.Contains(logged, "oauth: access token refreshed") || !strings.Contains(logged, "oauth: refreshing the access token failed") {
		t.Errorf("the log does not tell the refreshes:\n%s", logged)
	}
	for _, secret := range []string{cliExpiredToken, cliRefreshToken, "rt-rotated-", "at-live-", "0123456789abcdef"} {
		for name, where := range map[string]string{"log": logged, "show": show, "list json": fmt.Sprint(listed), "refresh json": raw} {
			if strings.Contains(where, secret) {
				t.Errorf("%q shows in the %s", secret, name)
			}
		}
	}
}

// `credential update` changes an OAuth credential's settings; they show
// in `credential show -o json`, the refresh token never does.
func TestOAuthCredentialUpdate(t *testing.T) {
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "gemini", "--type", "gemini", "--base-url", "https://example.invalid")
	var cred idOnly
	g.okJSON(t, &cred, "credential", "add", "--provider", "gemini", "--secret", cliExpiredToken,
		"--oauth-token-url", "https://auth.example.invalid/token", "--oauth-refresh-token", cliRefreshToken)
	out := g.ok(t, "credential", "update", cred.ID, "--oauth-token-url", "https://auth2.example.invalid/token",
		"--oauth-refresh-token", "rt-new-0123456789abcdef", "--oauth-client-id", "new-client", "--expires-at", "2031-01-02T03:04:05Z", "-o", "json")
	var got struct {
		OAuth struct {
			TokenURL  string    `json:"token_url"`
			ClientID  string    `json:"client_id"`
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"oauth"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.OAuth.TokenURL != "https://auth2.example.invalid/token" ||
		got.OAuth.ClientID != "new-client" || !got.OAuth.ExpiresAt.Equal(time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("update -o json: %s", out)
	}
	if strings.Contains(out, "rt-new") || strings.Contains(out, cliRefreshToken) {
		t.Errorf("update printed a refresh token: %s", out)
	}
	var plain idOnly
	g.okJSON(t, &plain, "credential", "add", "--provider", "gemini", "--secret", "AIza-plain-key-000000000")
	if r := g.cli(t, "", nil, "credential", "update", plain.ID, "--oauth-client-id", "x"); r.code != 1 ||
		!strings.Contains(r.stderr, "--oauth-client-id") {
		t.Errorf("OAuth settings on an API key: exit %d %q", r.code, r.stderr)
	}
}

// showField is the value of one "name: value" line of show output.
func showField(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
