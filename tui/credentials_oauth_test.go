package tui

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	tea "github.com/charmbracelet/bubbletea"
)

// oauthTUI is the real TUI model over a real gateway with one provider,
// showing the Credentials page.
func oauthTUI(t *testing.T) (*Model, *admin.Client) {
	t.Helper()
	g := startGateway(t, t.TempDir(), "127.0.0.1:0")
	c := g.client(t)
	if _, err := c.CreateProvider(t.Context(), admin.Provider{Name: "claude", Type: admin.TypeAnthropic, BaseURL: "https://api.anthropic.invalid"}); err != nil {
		t.Fatal(err)
	}
	m := newTestModel(t, c)
	press(m, "4")
	reloadCredentials(t, m, c)
	return m, c
}

func reloadCredentials(t *testing.T, m *Model, c *admin.Client) {
	t.Helper()
	creds, err := c.AllCredentials(t.Context(), admin.CredentialQuery{})
	if err != nil {
		t.Fatal(err)
	}
	provs, err := c.Providers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m.pages[3].(*credentialsPage).loading = false
	send(m, credentialsLoadedMsg{Credentials: creds, Providers: provs})
}

// submitForm presses enter and runs the admin call it starts, as the
// runtime would.
func submitForm(t *testing.T, m *Model) tea.Msg {
	t.Helper()
	cmd := press(m, "enter")
	if cmd == nil {
		t.Fatalf("the form did not submit:\n%s", m.View())
	}
	msg := cmd()
	send(m, msg)
	return msg
}

// An OAuth credential added through the form works: its refresh token is
// masked, never shown back, and is the one the token endpoint receives.
func TestCredentialFormAddsAndEditsAnOAuthCredential(t *testing.T) {
	var want atomic.Value
	want.Store("rt-typed-in-the-form-0123")
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.FormValue("refresh_token") != want.Load().(string) || r.FormValue("client_id") != "tui-client" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		fmt.Fprint(w, `{"access_token":"at-from-endpoint-0123456789","expires_in":3600}`)
	}))
	defer ts.Close()
	m, c := oauthTUI(t)

	press(m, "a", "tab", "tab") // provider, name, secret
	typeText(m, "at-typed-access-token-0123")
	press(m, "tab", "tab", "tab") // weight, rpm, token URL
	typeText(m, ts.URL+"/token")
	press(m, "tab")
	typeText(m, "rt-typed-in-the-form-0123")
	press(m, "tab")
	typeText(m, "tui-client")
	press(m, "tab")
	typeText(m, "2h")
	v := m.View()
	mustNotContain(t, v, "rt-typed-in-the-form-0123", "at-typed-access-token-0123")
	mustContain(t, screenLine(v, "Refresh token"), "•••••")
	checkFits(t, v, 80, 24)
	if msg, ok := submitForm(t, m).(credentialSavedMsg); !ok || msg.Err != nil {
		t.Fatalf("save: %+v", msg)
	}
	creds, err := c.AllCredentials(t.Context(), admin.CredentialQuery{})
	if err != nil || len(creds) != 1 {
		t.Fatal(creds, err)
	}
	cr := creds[0]
	if cr.Kind != admin.KindOAuth || cr.OAuth == nil || cr.OAuth.TokenURL != ts.URL+"/token" || cr.OAuth.ClientID != "tui-client" ||
		cr.OAuth.ExpiresAt == nil || !cr.OAuth.ExpiresAt.Equal(testNow.Add(2*time.Hour)) {
		t.Fatalf("stored %+v %+v", cr, cr.OAuth)
	}
	if _, err := c.RefreshCredential(t.Context(), cr.ID); err != nil {
		t.Fatalf("the refresh token typed in the form does not refresh: %v", err)
	}

	// Edit: the settings are prefilled, the refresh token is not; a new
	// one typed in replaces it.
	reloadCredentials(t, m, c)
	press(m, "e")
	v = m.View()
	mustContain(t, screenLine(v, "OAuth token URL"), ts.URL+"/token")
	mustContain(t, screenLine(v, "Client ID"), "tui-client")
	mustContain(t, v, "New refresh token")
	mustNotContain(t, v, "rt-typed-in-the-form-0123")
	checkFits(t, v, 80, 24)
	press(m, "tab", "tab", "tab", "tab", "tab") // weight, name, rpm, secret, token URL → new refresh token
	typeText(m, "rt-replaced-in-the-form-99")
	if msg, ok := submitForm(t, m).(credentialSavedMsg); !ok || msg.Err != nil {
		t.Fatalf("edit: %+v", msg)
	}
	want.Store("rt-replaced-in-the-form-99")
	if _, err := c.RefreshCredential(t.Context(), cr.ID); err != nil {
		t.Fatalf("the refresh token replaced in the form is not used: %v", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d token requests", n)
	}
}

func TestCredentialFormNeedsTheRefreshTokenForOAuth(t *testing.T) {
	m := credentialsModel(t)
	press(m, "a", "tab", "tab")
	typeText(m, "at-access-0123456789")
	press(m, "tab", "tab", "tab")
	typeText(m, "https://auth.example.com/token")
	if cmd := press(m, "enter"); cmd != nil {
		t.Fatal("an OAuth credential without a refresh token was submitted")
	}
	mustContain(t, screenLine(m.View(), "✗ required for an OAuth"), "✗ required for an OAuth credential")
	press(m, "esc", "a", "tab", "tab", "tab", "tab", "tab")
	typeText(m, "auth.example.com/token")
	press(m, "enter")
	mustContain(t, screenLine(m.View(), "✗ must be"), "✗ must be an http(s) URL")
}

// The detail pane tells an OAuth credential's expiry, last refresh and,
// when it failed, why.
func TestCredentialDetailShowsTheRefresh(t *testing.T) {
	m := credentialsModel(t)
	msg := fixtureCredentials()
	exp, last := testNow.Add(-10*time.Minute), testNow.Add(-2*time.Minute)
	msg.Credentials[0].Kind = admin.KindOAuth
	msg.Credentials[0].OAuth = &admin.OAuthInfo{TokenURL: "https://auth.example.com/token", ExpiresAt: &exp, LastRefreshAt: &last,
		RefreshState: admin.RefreshInvalidGrant, LastRefreshError: "token endpoint answered 400 (invalid_grant)\x1b[2J"}
	m.pages[3].(*credentialsPage).loading = false
	send(m, msg)
	v := m.View()
	mustContain(t, screenLine(v, "expires 2025"), "expires 2025-06-01 11:50 · refreshed 2025-06-01 11:58 invalid_grant")
	mustContain(t, screenLine(v, "refresh "), "invalid_grant: token endpoint answered 400 (invalid_grant)\\x1b[2J")
	checkFits(t, v, 80, 24)
}
