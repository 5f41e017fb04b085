package admin_test

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/store"
)

func TestHealthzAnswersWithoutToken(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodGet, "/healthz", "", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /healthz without a token = %d %s, want 200", r.status, r.body)
	}
	var body map[string]string
	if err := json.Unmarshal(r.body, &body); err != nil || body["status"] != "ok" {
		t.Fatalf("GET /healthz body = %s (%v), want {\"status\":\"ok\"}", r.body, err)
	}
	if err := admin.NewClient(e.srv.URL, "").Health(t.Context()); err != nil {
		t.Fatalf("Client.Health without a token: %v", err)
	}
}

func TestAuthenticationFailures(t *testing.T) {
	e := newEnv(t)

	// A token of the same format, signed with another master key.
	foreign := admin.NewTokens(e.st, newMasterKey(t))
	_, foreignTok, err := foreign.Issue("foreign", []string{admin.ScopeAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// A token signed with the right key whose record lives in another database.
	other, err := store.Open(filepath.Join(t.TempDir(), "other.db"), e.master, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, otherDBTok, err := admin.NewTokens(other, e.master).Issue("other db", []string{admin.ScopeAdmin}, time.Hour)
	other.Close()
	if err != nil {
		t.Fatal(err)
	}
	revokedRec, revokedTok, err := e.tokens.Issue("revoked", []string{admin.ScopeAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.RevokeToken(revokedRec.ID); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name        string
		header      string // Authorization; "" sends none
		wantMessage string
	}{
		{"no Authorization header", "", "missing admin token"},
		{"empty bearer", "Bearer ", "missing admin token"},
		{"basic auth", "Basic dXNlcjpwYXNz", "missing admin token"},
		{"bare token without Bearer", e.adminToken, "missing admin token"},
		{"garbage token", "Bearer not-a-jwt", "invalid admin token"},
		{"token with a flipped signature", "Bearer " + flipSignature(e.adminToken), "invalid admin token"},
		{"token signed with another master key", "Bearer " + foreignTok, "invalid admin token"},
		{"token unknown to this database", "Bearer " + otherDBTok, "invalid admin token"},
		{"revoked token", "Bearer " + revokedTok, "revoked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.doHeader(http.MethodGet, "/api/v1/providers", tc.header, "")
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status = %d %s, want 401", r.status, r.body)
			}
			msg, _ := r.errorBody(t)
			if !strings.Contains(msg, tc.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", msg, tc.wantMessage)
			}
		})
	}

	t.Run("the valid token is accepted", func(t *testing.T) {
		if r := e.do(http.MethodGet, "/api/v1/providers", e.adminToken, ""); r.status != http.StatusOK {
			t.Fatalf("status = %d %s, want 200", r.status, r.body)
		}
	})
}

// flipSignature changes one character inside a JWT's signature (not the
// last one, whose low bits base64 decoders ignore).
func flipSignature(tok string) string {
	i := len(tok) - 5
	repl := byte('A')
	if tok[i] == 'A' {
		repl = 'B'
	}
	return tok[:i] + string(repl) + tok[i+1:]
}

func TestExpiredTokenIsRefused(t *testing.T) {
	e := newEnv(t)
	tok := e.token(admin.ScopeProvidersRead) // valid for an hour
	c := e.clientWith(tok)
	if _, err := c.Providers(t.Context()); err != nil {
		t.Fatalf("fresh token: %v", err)
	}

	e.clock.Advance(time.Hour + time.Second)

	_, err := c.Providers(t.Context())
	ae := wantAPIError(t, err, http.StatusUnauthorized, "")
	if !strings.Contains(ae.Message, "expired") {
		t.Errorf("message = %q, want it to say the token expired", ae.Message)
	}
	msg, _ := e.do(http.MethodGet, "/api/v1/providers", tok, "").errorBody(t)
	if !strings.Contains(msg, "expired") {
		t.Errorf("raw message = %q, want it to say expired", msg)
	}
}

func TestRevokedTokenThroughClient(t *testing.T) {
	e := newEnv(t)
	created, err := e.client.CreateToken(t.Context(), admin.TokenRequest{Name: "ci", Scopes: []string{admin.ScopeProvidersRead}})
	if err != nil {
		t.Fatal(err)
	}
	c := e.clientWith(created.Token)
	if _, err := c.Providers(t.Context()); err != nil {
		t.Fatalf("new token right after creation: %v", err)
	}
	rec, err := e.client.RevokeToken(t.Context(), created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != admin.KeyRevoked || rec.RevokedAt == nil {
		t.Errorf("revoke answered status %q revoked_at %v, want revoked", rec.Status, rec.RevokedAt)
	}
	_, err = c.Providers(t.Context())
	ae := wantAPIError(t, err, http.StatusUnauthorized, "")
	if !strings.Contains(ae.Message, "revoked") {
		t.Errorf("message = %q, want it to say revoked", ae.Message)
	}
	// The listing shows it revoked; revoking again is harmless.
	list, err := e.client.Tokens(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tk := range list {
		if tk.ID == created.ID {
			found = true
			if tk.Status != admin.KeyRevoked {
				t.Errorf("listed status = %q, want revoked", tk.Status)
			}
		}
	}
	if !found {
		t.Errorf("revoked token %s missing from the list", created.ID)
	}
	if _, err := e.client.RevokeToken(t.Context(), created.ID); err != nil {
		t.Errorf("second revoke: %v", err)
	}
	_, err = e.client.RevokeToken(t.Context(), "tok_doesnotexist")
	wantAPIError(t, err, http.StatusNotFound, "")
}

func TestUnknownEndpointIsJSON404(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/api/v1/nothing", "/", "/api/v2/providers"} {
		r := e.do(http.MethodGet, path, e.adminToken, "")
		if r.status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, r.status)
			continue
		}
		if msg, _ := r.errorBody(t); !strings.Contains(msg, path) {
			t.Errorf("GET %s message %q does not name the path", path, msg)
		}
	}
}

func TestClientUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more

	c := admin.NewClient(url, "some-token")
	if err := c.Health(t.Context()); !errors.Is(err, admin.ErrUnreachable) {
		t.Errorf("Health: err = %v, want ErrUnreachable", err)
	}
	_, err = c.Providers(t.Context())
	if !errors.Is(err, admin.ErrUnreachable) {
		t.Fatalf("Providers: err = %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), url) {
		t.Errorf("error %q does not name the address %s", err, url)
	}
	var ae *admin.APIError
	if errors.As(err, &ae) {
		t.Errorf("a connection failure must not look like an API answer: %v", ae)
	}
}
