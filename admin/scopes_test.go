package admin_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/internal/testkit"
	"github.com/aigw/aigw/internal/units"
	"github.com/aigw/aigw/store"
)

// scopeFixture is fixture plus what the deleting routes consume.
type scopeFixture struct {
	fixture
	doomed string // a provider nothing uses
	victim string // an admin token id to revoke
}

func (e *env) scopeFixture() scopeFixture {
	e.t.Helper()
	f := scopeFixture{fixture: e.fixture()}
	p, err := e.st.CreateProvider(store.Provider{Name: "doomed", Type: admin.TypeGemini, BaseURL: "https://example.com"})
	if err != nil {
		e.t.Fatal(err)
	}
	f.doomed = p.Name
	rec, _, err := e.tokens.Issue("victim", []string{admin.ScopeTokensWrite}, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	f.victim = rec.ID
	return f
}

type route struct {
	method string
	path   func(f scopeFixture) string
	body   func(f scopeFixture) string
	scope  string
	want   int // status of an accepted request
}

// name shows the route with placeholders for the fixture's ids.
func (rt route) name() string {
	ph := scopeFixture{doomed: "{name}", victim: "{id}", fixture: fixture{
		cred: store.Credential{ID: "{id}"}, spare: store.Credential{ID: "{id}"}, key: store.Key{ID: "{id}"}}}
	return rt.method + " " + rt.path(ph)
}

func fixed(s string) func(scopeFixture) string { return func(scopeFixture) string { return s } }

// routes maps every admin API route to the scope that guards it. Accepted
// requests run in this order over one fixture, so a route that consumes
// something (a delete, a revoke) comes after the routes that use it.
var routes = []route{
	{http.MethodGet, fixed("/api/v1/providers"), nil, admin.ScopeProvidersRead, http.StatusOK},
	{http.MethodPost, fixed("/api/v1/providers"), fixed(`{"name":"anthropic","type":"anthropic","base_url":"https://api.anthropic.com"}`), admin.ScopeProvidersWrite, http.StatusCreated},
	{http.MethodGet, fixed("/api/v1/providers/openai"), nil, admin.ScopeProvidersRead, http.StatusOK},
	{http.MethodPatch, fixed("/api/v1/providers/openai"), fixed(`{"timeout":"30s"}`), admin.ScopeProvidersWrite, http.StatusOK},
	{http.MethodDelete, func(f scopeFixture) string { return "/api/v1/providers/" + f.doomed }, nil, admin.ScopeProvidersWrite, http.StatusNoContent},

	{http.MethodGet, fixed("/api/v1/credentials"), nil, admin.ScopeCredentialsRead, http.StatusOK},
	{http.MethodGet, fixed("/api/v1/credentials?provider=openai"), nil, admin.ScopeCredentialsRead, http.StatusOK},
	{http.MethodPost, fixed("/api/v1/credentials"), fixed(`{"provider":"openai","secret":"sk-another-secret-0000"}`), admin.ScopeCredentialsWrite, http.StatusCreated},
	{http.MethodGet, func(f scopeFixture) string { return "/api/v1/credentials/" + f.cred.ID }, nil, admin.ScopeCredentialsRead, http.StatusOK},
	{http.MethodPatch, func(f scopeFixture) string { return "/api/v1/credentials/" + f.cred.ID }, fixed(`{"weight":5}`), admin.ScopeCredentialsWrite, http.StatusOK},
	{http.MethodDelete, func(f scopeFixture) string { return "/api/v1/credentials/" + f.spare.ID }, nil, admin.ScopeCredentialsWrite, http.StatusNoContent},
	// The fixture's credential is an API key: past the scope check, its refresh is refused as such.
	{http.MethodPost, func(f scopeFixture) string { return "/api/v1/credentials/" + f.cred.ID + "/refresh" }, nil, admin.ScopeCredentialsWrite, http.StatusBadRequest},

	{http.MethodGet, fixed("/api/v1/keys"), nil, admin.ScopeKeysRead, http.StatusOK},
	{http.MethodPost, fixed("/api/v1/keys"), func(f scopeFixture) string {
		return `{"provider":"openai","credentials":["` + f.cred.ID + `"]}`
	}, admin.ScopeKeysWrite, http.StatusCreated},
	{http.MethodGet, func(f scopeFixture) string { return "/api/v1/keys/" + f.key.ID }, nil, admin.ScopeKeysRead, http.StatusOK},
	{http.MethodPatch, func(f scopeFixture) string { return "/api/v1/keys/" + f.key.ID }, fixed(`{"rpm":60}`), admin.ScopeKeysWrite, http.StatusOK},
	{http.MethodPost, func(f scopeFixture) string { return "/api/v1/keys/" + f.key.ID + "/revoke" }, nil, admin.ScopeKeysWrite, http.StatusOK},

	{http.MethodGet, fixed("/api/v1/tokens"), nil, admin.ScopeTokensRead, http.StatusOK},
	{http.MethodPost, fixed("/api/v1/tokens"), fixed(`{"name":"ci","scopes":["tokens:write"]}`), admin.ScopeTokensWrite, http.StatusCreated},
	{http.MethodGet, func(f scopeFixture) string { return "/api/v1/tokens/" + f.victim }, nil, admin.ScopeTokensRead, http.StatusOK},
	{http.MethodDelete, func(f scopeFixture) string { return "/api/v1/tokens/" + f.victim }, nil, admin.ScopeTokensWrite, http.StatusOK},

	{http.MethodGet, fixed("/api/v1/backup"), nil, admin.ScopeBackup, http.StatusOK},

	{http.MethodGet, fixed("/api/v1/traces?limit=5"), nil, admin.ScopeTracesRead, http.StatusOK},
	{http.MethodGet, fixed("/api/v1/traces/nope"), nil, admin.ScopeTracesRead, http.StatusNotFound},
	{http.MethodGet, fixed("/api/v1/traces/export?status=5xx"), nil, admin.ScopeTracesRead, http.StatusOK},
	{http.MethodGet, fixed("/api/v1/usage?by=model"), nil, admin.ScopeUsageRead, http.StatusOK},
	{http.MethodGet, fixed("/api/v1/prices?model=gpt-*"), nil, admin.ScopeUsageRead, http.StatusOK},
	{http.MethodPut, fixed("/api/v1/prices/imported"), fixed(`{"my-model":{"input_cost_per_token":1e-6,"output_cost_per_token":2e-6}}`), admin.ScopeAdmin, http.StatusOK},
	{http.MethodGet, fixed("/metrics"), nil, admin.ScopeMetricsRead, http.StatusNotFound}, // no metrics wired in this test
	{http.MethodGet, fixed("/debug/pprof/"), nil, admin.ScopeAdmin, http.StatusOK},
}

func (rt route) send(e *env, f scopeFixture, tok string) response {
	body := ""
	if rt.body != nil {
		body = rt.body(f)
	}
	return e.do(rt.method, rt.path(f), tok, body)
}

func TestEveryRouteChecksItsScope(t *testing.T) {
	t.Run("refused without its scope", func(t *testing.T) {
		e := newEnv(t)
		f := e.scopeFixture()
		for _, rt := range routes {
			t.Run(rt.name(), func(t *testing.T) {
				// Every scope but the one needed (and admin, which holds it).
				var others []string
				for _, s := range admin.AllScopes {
					if s != rt.scope && s != admin.ScopeAdmin {
						others = append(others, s)
					}
				}
				tok := e.token(others...)
				before := e.snapshot()
				r := rt.send(e, f, tok)
				if r.status != http.StatusForbidden {
					t.Fatalf("status = %d %s, want 403", r.status, r.body)
				}
				if msg, _ := r.errorBody(t); !strings.Contains(msg, rt.scope) {
					t.Errorf("message %q does not name the missing scope %s", msg, rt.scope)
				}
				if after := e.snapshot(); after != before {
					t.Errorf("a refused request changed the stored data:\nbefore %s\nafter  %s", before, after)
				}
				if n := e.reloads.Load(); n != 0 {
					t.Errorf("a refused request reloaded the proxy %d times", n)
				}
			})
		}
	})
	for _, holder := range []string{"its scope alone", admin.ScopeAdmin} {
		t.Run("accepted with "+holder, func(t *testing.T) {
			e := newEnv(t)
			f := e.scopeFixture()
			for _, rt := range routes {
				t.Run(rt.name(), func(t *testing.T) {
					scope := rt.scope
					if holder == admin.ScopeAdmin {
						scope = admin.ScopeAdmin
					}
					if r := rt.send(e, f, e.token(scope)); r.status != rt.want {
						t.Fatalf("status = %d %s, want %d", r.status, r.body, rt.want)
					}
				})
			}
		})
	}
}

func TestKeysReadTokenCanOnlyReadKeys(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	c := e.clientWith(e.token(admin.ScopeKeysRead))

	page, err := c.Keys(t.Context(), admin.KeyQuery{})
	keys := page.Keys
	if err != nil {
		t.Fatalf("list keys with keys:read: %v", err)
	}
	if len(keys) != 1 || keys[0].ID != f.key.ID {
		t.Errorf("keys = %+v, want the fixture key %s", keys, f.key.ID)
	}
	if _, err := c.Key(t.Context(), f.key.ID); err != nil {
		t.Errorf("show key with keys:read: %v", err)
	}

	refused := []struct {
		name  string
		scope string
		call  func() error
	}{
		{"add a provider", admin.ScopeProvidersWrite, func() error {
			_, err := c.CreateProvider(t.Context(), admin.Provider{Name: "x", Type: admin.TypeOpenAI, BaseURL: "https://x.example"})
			return err
		}},
		{"list providers", admin.ScopeProvidersRead, func() error { _, err := c.Providers(t.Context()); return err }},
		{"create a key", admin.ScopeKeysWrite, func() error {
			_, err := c.CreateKey(t.Context(), admin.KeyInput{Provider: "openai", Credentials: []string{f.spare.ID}})
			return err
		}},
		{"revoke a key", admin.ScopeKeysWrite, func() error { _, err := c.RevokeKey(t.Context(), f.key.ID); return err }},
		{"list credentials", admin.ScopeCredentialsRead, func() error { _, err := c.Credentials(t.Context(), admin.CredentialQuery{}); return err }},
		{"list tokens", admin.ScopeTokensRead, func() error { _, err := c.Tokens(t.Context()); return err }},
		{"create a token", admin.ScopeTokensWrite, func() error {
			_, err := c.CreateToken(t.Context(), admin.TokenRequest{Scopes: []string{admin.ScopeKeysRead}})
			return err
		}},
		{"backup", admin.ScopeBackup, func() error { _, err := c.Backup(t.Context(), new(strings.Builder)); return err }},
	}
	before := e.snapshot()
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			ae := wantAPIError(t, tc.call(), http.StatusForbidden, "")
			if !strings.Contains(ae.Message, tc.scope) {
				t.Errorf("message %q does not name the missing scope %s", ae.Message, tc.scope)
			}
		})
	}
	if after := e.snapshot(); after != before {
		t.Errorf("refused requests changed the stored data:\nbefore %s\nafter  %s", before, after)
	}
}

// A providers:write token cannot send a provider's credentials elsewhere:
// once the provider has credentials, every setting that decides where and
// how they are sent needs credentials:write too, by any route.
func TestProviderRouteNeedsCredentialsWrite(t *testing.T) {
	e := newEnv(t)
	e.fixture() // provider openai with two credentials
	if _, err := e.st.CreateProvider(store.Provider{Name: "bare", Type: admin.TypeOpenAI, BaseURL: "https://bare.example.com"}); err != nil {
		t.Fatal(err)
	}
	ca := testkit.WriteCA(t)
	pw := e.clientWith(e.token(admin.ScopeProvidersWrite))
	redirects := []struct {
		name  string
		patch admin.ProviderPatch
		field string
	}{
		{"base_url to the holder's listener", admin.ProviderPatch{BaseURL: ptr("http://127.0.0.1:9/steal")}, "base_url"},
		{"auth header template", admin.ProviderPatch{AuthHeaders: &[]string{"X-Copy: {key}"}}, "auth_headers"},
		{"extra headers", admin.ProviderPatch{Headers: &[]string{"X-Route: other"}}, "headers"},
		{"ca_file", admin.ProviderPatch{CAFile: &ca}, "ca_file"},
		{"type whose default auth header differs", admin.ProviderPatch{Type: ptr(admin.TypeAnthropic)}, "auth_headers"},
	}
	before := e.snapshot()
	for _, rd := range redirects {
		t.Run("refused: "+rd.name, func(t *testing.T) {
			_, err := pw.UpdateProvider(t.Context(), "openai", rd.patch)
			ae := wantAPIError(t, err, http.StatusForbidden, rd.field)
			if !strings.Contains(ae.Message, admin.ScopeCredentialsWrite) || strings.Contains(ae.Message, "\n") {
				t.Errorf("message %q is not one line naming %s", ae.Message, admin.ScopeCredentialsWrite)
			}
		})
	}
	t.Run("refused: remove and add again under the same name", func(t *testing.T) {
		wantAPIError(t, pw.DeleteProvider(t.Context(), "openai"), http.StatusConflict, "")
		_, err := pw.CreateProvider(t.Context(), admin.Provider{Name: "openai", Type: admin.TypeOpenAI, BaseURL: "http://127.0.0.1:9/steal"})
		wantAPIError(t, err, http.StatusConflict, "")
	})
	if after := e.snapshot(); after != before {
		t.Fatalf("refused changes were stored:\nbefore %s\nafter  %s", before, after)
	}
	if n := e.reloads.Load(); n != 0 {
		t.Fatalf("refused changes reloaded the proxy %d times", n)
	}

	t.Run("allowed: settings that do not move the credentials", func(t *testing.T) {
		for _, patch := range []admin.ProviderPatch{
			{Timeout: ptr(units.Duration(30 * time.Second))},
			{BaseURL: ptr("https://api.openai.com/v1/")}, // the same URL
			{Type: ptr(admin.TypeOpenAICompatible)},      // same auth header and extra headers
		} {
			if _, err := pw.UpdateProvider(t.Context(), "openai", patch); err != nil {
				t.Errorf("patch %+v: %v", patch, err)
			}
		}
	})
	t.Run("allowed: a provider without credentials", func(t *testing.T) {
		for _, rd := range redirects {
			if _, err := pw.UpdateProvider(t.Context(), "bare", rd.patch); err != nil {
				t.Errorf("%s: %v", rd.name, err)
			}
		}
	})
	for _, scopes := range [][]string{{admin.ScopeProvidersWrite, admin.ScopeCredentialsWrite}, {admin.ScopeAdmin}} {
		t.Run("allowed with "+strings.Join(scopes, "+"), func(t *testing.T) {
			url := "https://" + strings.ReplaceAll(strings.Join(scopes, "-"), ":", "-") + ".example.com"
			p, err := e.clientWith(e.token(scopes...)).UpdateProvider(t.Context(), "openai", admin.ProviderPatch{BaseURL: &url})
			if err != nil || p.BaseURL != url {
				t.Fatalf("UpdateProvider = %s, %v; want base_url %s", p.BaseURL, err, url)
			}
		})
	}
}

// ca_file errors say the same thing whatever the file is, so the admin API
// cannot be used to learn which files exist or are readable on the server.
func TestCAFileErrorsDoNotTellWhichFilesExist(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("db password: hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{
		"missing":      filepath.Join(dir, "missing.pem"),
		"a directory":  dir,
		"not PEM":      notes,
		"a device":     os.DevNull,
		"below a file": filepath.Join(notes, "ca.pem"),
	}
	if os.Geteuid() != 0 { // root reads anything
		locked := filepath.Join(dir, "locked.pem")
		if err := os.WriteFile(locked, []byte("x"), 0o000); err != nil {
			t.Fatal(err)
		}
		paths["unreadable"] = locked
	}
	if _, err := e.client.CreateProvider(t.Context(), admin.Provider{Name: "p", Type: admin.TypeOpenAI, BaseURL: "https://p.example.com"}); err != nil {
		t.Fatal(err)
	}
	const want = "invalid ca_file: not a readable PEM certificate file"
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			_, err := e.client.CreateProvider(t.Context(), admin.Provider{Name: "q", Type: admin.TypeOpenAI, BaseURL: "https://q.example.com", CAFile: path})
			if ae := wantAPIError(t, err, http.StatusBadRequest, "ca_file"); ae.Message != want {
				t.Errorf("provider add: message %q, want %q", ae.Message, want)
			}
			_, err = e.client.UpdateProvider(t.Context(), "p", admin.ProviderPatch{CAFile: &path})
			if ae := wantAPIError(t, err, http.StatusBadRequest, "ca_file"); ae.Message != want {
				t.Errorf("provider update: message %q, want %q", ae.Message, want)
			}
		})
	}
}
