package admin_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/internal/units"
)

func TestTokenCreationCannotEscalate(t *testing.T) {
	e := newEnv(t)
	c := e.clientWith(e.token(admin.ScopeTokensWrite, admin.ScopeKeysRead))
	before := e.snapshot()

	for _, scopes := range [][]string{
		{admin.ScopeProvidersWrite},
		{admin.ScopeAdmin},
		{admin.ScopeKeysRead, admin.ScopeKeysWrite}, // one held, one not
		{admin.ScopeBackup},
	} {
		t.Run(strings.Join(scopes, "+"), func(t *testing.T) {
			_, err := c.CreateToken(t.Context(), admin.TokenRequest{Name: "escalate", Scopes: scopes})
			ae := wantAPIError(t, err, http.StatusForbidden, "scopes")
			if !strings.Contains(ae.Message, "cannot grant") {
				t.Errorf("message = %q, want it to say the scope cannot be granted", ae.Message)
			}
		})
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("refused token requests stored something:\nbefore %s\nafter  %s", before, after)
	}

	t.Run("a held scope can be handed out and works at once", func(t *testing.T) {
		created, err := c.CreateToken(t.Context(), admin.TokenRequest{Name: "reader", Scopes: []string{admin.ScopeKeysRead}})
		if err != nil {
			t.Fatal(err)
		}
		if created.ID == "" || created.Token == "" {
			t.Fatalf("created token = %+v, want an id and a token", created)
		}
		nc := e.clientWith(created.Token)
		if _, err := nc.Keys(t.Context(), admin.KeyQuery{}); err != nil {
			t.Errorf("new keys:read token cannot list keys: %v", err)
		}
		_, err = nc.Providers(t.Context())
		wantAPIError(t, err, http.StatusForbidden, "")
	})
}

func TestTokenRequestValidation(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name      string
		body      string
		wantField string
		wantInMsg string
	}{
		{"unknown scope", `{"scopes":["keys:read","root"]}`, "scopes", `"root"`},
		{"no scope", `{"scopes":[]}`, "scopes", "at least one"},
		{"scopes missing", `{"name":"x"}`, "scopes", "at least one"},
		{"negative ttl", `{"scopes":["keys:read"],"ttl":"-1h"}`, "ttl", "-1h"},
		{"ttl over 10 years", `{"scopes":["keys:read"],"ttl":"3700d"}`, "ttl", "10 years"},
		{"ttl below a second", `{"scopes":["keys:read"],"ttl":"500ms"}`, "ttl", "1s"},
		{"ttl as a number", `{"scopes":["keys:read"],"ttl":3600}`, "ttl", "ttl"},
		{"ttl not a duration", `{"scopes":["keys:read"],"ttl":"forever"}`, "", "forever"},
		{"unknown field", `{"scopes":["keys:read"],"expires":"1h"}`, "expires", "expires"},
	}
	before := e.snapshot()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, "/api/v1/tokens", e.adminToken, tc.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status = %d %s, want 400", r.status, r.body)
			}
			msg, field := r.errorBody(t)
			if field != tc.wantField {
				t.Errorf("field = %q, want %q (message %q)", field, tc.wantField, msg)
			}
			if !strings.Contains(msg, tc.wantInMsg) {
				t.Errorf("message = %q, want it to contain %q", msg, tc.wantInMsg)
			}
		})
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("refused token requests stored something:\nbefore %s\nafter  %s", before, after)
	}
}

func TestTokenLifetime(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name string
		ttl  units.Duration
		want time.Duration
	}{
		{"default is 30 days", 0, admin.DefaultTokenTTL},
		{"one hour", units.Duration(time.Hour), time.Hour},
		{"ten years of days", units.Duration(3650 * 24 * time.Hour), 3650 * 24 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			created, err := e.client.CreateToken(t.Context(), admin.TokenRequest{Scopes: []string{admin.ScopeKeysRead}, TTL: tc.ttl})
			if err != nil {
				t.Fatal(err)
			}
			lo, hi := start.Add(tc.want).Add(-2*time.Second), time.Now().Add(tc.want).Add(time.Second)
			if created.ExpiresAt.Before(lo) || created.ExpiresAt.After(hi) {
				t.Errorf("expires_at = %s, want about %s from now", created.ExpiresAt, tc.want)
			}
			if created.Status != "active" {
				t.Errorf("status = %q, want active", created.Status)
			}
		})
	}
}

func TestTokenCreateJSONShape(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodPost, "/api/v1/tokens", e.adminToken, `{"name":"ci","scopes":["keys:read","keys:read","backup"]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("status = %d %s, want 201", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var out map[string]any
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "token", "name", "scopes", "expires_at", "status"} {
		if _, ok := out[k]; !ok {
			t.Errorf("token create answer lacks %q: %s", k, r.body)
		}
	}
	scopes, _ := json.Marshal(out["scopes"])
	if string(scopes) != `["backup","keys:read"]` {
		t.Errorf("scopes = %s, want the requested ones sorted without duplicates", scopes)
	}
	// The signed token itself is not kept: listing never shows it.
	tok, _ := out["token"].(string)
	list := e.do(http.MethodGet, "/api/v1/tokens", e.adminToken, "")
	if list.status != http.StatusOK || strings.Contains(string(list.body), tok) {
		t.Errorf("token list (%d) contains the signed token", list.status)
	}
}

// A token cannot revoke one that holds scopes it lacks (the local admin
// token, for instance), just as it cannot create one.
func TestTokenRevocationCannotEscalate(t *testing.T) {
	e := newEnv(t)
	strong, _, err := e.tokens.Issue("strong", []string{admin.ScopeAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	weak := e.clientWith(e.token(admin.ScopeTokensWrite, admin.ScopeTokensRead))
	_, err = weak.RevokeToken(t.Context(), strong.ID)
	var ae *admin.APIError
	if !errors.As(err, &ae) || ae.Status != 403 || !strings.Contains(ae.Message, "admin") {
		t.Fatalf("revoking an admin token with tokens:write: %v", err)
	}
	if got, _ := e.st.Token(strong.ID); got.Status != "active" {
		t.Fatalf("the admin token was revoked anyway: %s", got.Status)
	}
	peer, _, _ := e.tokens.Issue("peer", []string{admin.ScopeTokensRead}, time.Hour)
	if _, err := weak.RevokeToken(t.Context(), peer.ID); err != nil {
		t.Fatalf("revoking a token with a subset of the caller's scopes: %v", err)
	}
}

// childOf creates a token through the API with the token parent.
func (e *env) childOf(parent, name string, ttl time.Duration, scopes ...string) admin.CreatedToken {
	e.t.Helper()
	created, err := e.clientWith(parent).CreateToken(e.t.Context(), admin.TokenRequest{Name: name, Scopes: scopes, TTL: units.Duration(ttl)})
	if err != nil {
		e.t.Fatalf("create token %s: %v", name, err)
	}
	return created
}

// A token created by a token expires no later than its creator: a longer
// ttl (or the default) is cut to the creator's expiry, and the answer says so.
func TestChildTokenExpiresWithItsParent(t *testing.T) {
	e := newEnv(t)
	parent := e.childOf(e.adminToken, "one minute", time.Minute, admin.ScopeTokensWrite, admin.ScopeKeysRead)
	long := e.childOf(parent.Token, "ten years", 3650*24*time.Hour, admin.ScopeTokensWrite, admin.ScopeKeysRead)
	deflt := e.childOf(long.Token, "default ttl", 0, admin.ScopeKeysRead)
	short := e.childOf(parent.Token, "ten seconds", 10*time.Second, admin.ScopeKeysRead)
	for _, c := range []admin.CreatedToken{long, deflt} {
		if !c.ExpiresAt.Equal(parent.ExpiresAt) {
			t.Errorf("%s: expires_at %s, want the parent's %s", c.Name, c.ExpiresAt, parent.ExpiresAt)
		}
	}
	if !short.ExpiresAt.Before(parent.ExpiresAt) {
		t.Errorf("a shorter ttl was changed: expires_at %s, parent's %s", short.ExpiresAt, parent.ExpiresAt)
	}
	if long.ParentID != parent.ID || deflt.ParentID != long.ID {
		t.Errorf("parent_id = %q and %q, want %s and %s", long.ParentID, deflt.ParentID, parent.ID, long.ID)
	}
	if _, err := e.clientWith(deflt.Token).Keys(t.Context(), admin.KeyQuery{}); err != nil {
		t.Fatalf("the grandchild does not work before the parent expires: %v", err)
	}
	e.clock.Advance(time.Minute + 2*time.Second)
	for _, c := range []admin.CreatedToken{parent, long, deflt} {
		_, err := e.clientWith(c.Token).Keys(t.Context(), admin.KeyQuery{})
		if ae := wantAPIError(t, err, http.StatusUnauthorized, ""); !strings.Contains(ae.Message, "expired") {
			t.Errorf("%s after the parent expired: %q, want expired", c.Name, ae.Message)
		}
	}
}

// Revoking a token revokes every token it created, down the whole line;
// tokens created by a root token (the local admin.token) live on as before.
func TestRevokingATokenRevokesWhatItCreated(t *testing.T) {
	e := newEnv(t)
	scopes := []string{admin.ScopeTokensWrite, admin.ScopeTokensRead, admin.ScopeKeysRead}
	parent := e.childOf(e.adminToken, "parent", time.Hour, scopes...)
	child := e.childOf(parent.Token, "child", time.Hour, scopes...)
	grandchild := e.childOf(child.Token, "grandchild", time.Hour, admin.ScopeKeysRead)
	sibling := e.childOf(e.adminToken, "sibling", time.Hour, scopes...)
	nephew := e.childOf(sibling.Token, "nephew", time.Hour, admin.ScopeKeysRead)

	if _, err := e.client.RevokeToken(t.Context(), parent.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []admin.CreatedToken{parent, child, grandchild} {
		_, err := e.clientWith(c.Token).Keys(t.Context(), admin.KeyQuery{})
		if ae := wantAPIError(t, err, http.StatusUnauthorized, ""); !strings.Contains(ae.Message, "revoked") {
			t.Errorf("%s: %q, want revoked", c.Name, ae.Message)
		}
	}
	for _, c := range []admin.CreatedToken{sibling, nephew} {
		if _, err := e.clientWith(c.Token).Keys(t.Context(), admin.KeyQuery{}); err != nil {
			t.Errorf("%s, of another line, stopped working: %v", c.Name, err)
		}
	}
	list, err := e.client.Tokens(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, tok := range list {
		status[tok.Name] = tok.Status
	}
	for name, want := range map[string]string{"parent": "revoked", "child": "revoked", "grandchild": "revoked", "sibling": "active", "nephew": "active"} {
		if status[name] != want {
			t.Errorf("token list: %s is %q, want %q", name, status[name], want)
		}
	}

	t.Run("a root's children live on", func(t *testing.T) {
		rootRec, root, err := e.tokens.Issue("root", []string{admin.ScopeAdmin}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		kid := e.childOf(root, "kid of root", 3650*24*time.Hour, admin.ScopeKeysRead)
		if !kid.ExpiresAt.After(rootRec.ExpiresAt) {
			t.Errorf("a root's child was cut to the root's expiry: %s", kid.ExpiresAt)
		}
		if _, err := e.client.RevokeToken(t.Context(), rootRec.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.clientWith(kid.Token).Keys(t.Context(), admin.KeyQuery{}); err != nil {
			t.Errorf("the root's child stopped working with it: %v", err)
		}
	})
}
