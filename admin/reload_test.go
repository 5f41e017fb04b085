package admin_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/store"
)

// TestReloadAfterEveryWrite walks through the life of a provider, its
// credential and a key, counting the proxy reloads: one per successful
// write, none for a refused write or a read. Each reload sees the write.
func TestReloadAfterEveryWrite(t *testing.T) {
	e := newEnv(t)
	c := e.client
	var credID, keyID string

	steps := []struct {
		name   string
		call   func() error
		reload bool
		// sees checks what the reload read from the store.
		sees func(d *store.Data) bool
	}{
		{"create provider", func() error {
			_, err := c.CreateProvider(t.Context(), admin.Provider{Name: "openai", Type: admin.TypeOpenAI, BaseURL: "https://api.openai.com/v1"})
			return err
		}, true, func(d *store.Data) bool { return len(d.Providers) == 1 }},
		{"create provider of the same name, other settings (refused)", func() error {
			_, err := c.CreateProvider(t.Context(), admin.Provider{Name: "openai", Type: admin.TypeOpenAI, BaseURL: "https://eu.api.openai.com/v1"})
			return err
		}, false, nil},
		{"update provider", func() error {
			_, err := c.UpdateProvider(t.Context(), "openai", admin.ProviderPatch{BaseURL: ptr("https://eu.api.openai.com/v1")})
			return err
		}, true, func(d *store.Data) bool { return d.Providers[0].BaseURL == "https://eu.api.openai.com/v1" }},
		{"update provider with a bad base_url (refused)", func() error {
			_, err := c.UpdateProvider(t.Context(), "openai", admin.ProviderPatch{BaseURL: ptr("nope")})
			return err
		}, false, nil},
		{"create credential", func() error {
			cr, err := c.CreateCredential(t.Context(), admin.CredentialInput{Provider: "openai", Secret: credSecret})
			credID = cr.ID
			return err
		}, true, func(d *store.Data) bool { return len(d.Credentials) == 1 && d.Credentials[0].Secret == credSecret }},
		{"create credential without a secret (refused)", func() error {
			_, err := c.CreateCredential(t.Context(), admin.CredentialInput{Provider: "openai"})
			return err
		}, false, nil},
		{"disable credential", func() error {
			_, err := c.UpdateCredential(t.Context(), credID, admin.CredentialPatch{Enabled: ptr(false)})
			return err
		}, true, func(d *store.Data) bool { return !d.Credentials[0].Enabled }},
		{"update unknown credential (refused)", func() error {
			_, err := c.UpdateCredential(t.Context(), "cred_nope", admin.CredentialPatch{Enabled: ptr(true)})
			return err
		}, false, nil},
		{"create key", func() error {
			k, err := c.CreateKey(t.Context(), admin.KeyInput{Provider: "openai", Credentials: []string{credID}})
			keyID = k.ID
			return err
		}, true, func(d *store.Data) bool { return len(d.Keys) == 1 }},
		{"create key over an unknown credential (refused)", func() error {
			_, err := c.CreateKey(t.Context(), admin.KeyInput{Provider: "openai", Credentials: []string{"cred_nope"}})
			return err
		}, false, nil},
		{"update key", func() error {
			_, err := c.UpdateKey(t.Context(), keyID, admin.KeyPatch{RPM: ptr(int64(60))})
			return err
		}, true, func(d *store.Data) bool { return d.Keys[0].RPM == 60 }},
		{"update key with a bad strategy (refused)", func() error {
			_, err := c.UpdateKey(t.Context(), keyID, admin.KeyPatch{Strategy: ptr("random")})
			return err
		}, false, nil},
		{"remove credential in use (refused)", func() error { return c.DeleteCredential(t.Context(), credID) }, false, nil},
		{"revoke key", func() error { _, err := c.RevokeKey(t.Context(), keyID); return err },
			true, func(d *store.Data) bool { return d.Keys[0].Status == admin.KeyRevoked }},
		{"revoke unknown key (refused)", func() error { _, err := c.RevokeKey(t.Context(), "key_nope"); return err }, false, nil},
		{"remove credential", func() error { return c.DeleteCredential(t.Context(), credID) },
			true, func(d *store.Data) bool { return len(d.Credentials) == 0 }},
		{"remove unknown credential (refused)", func() error { return c.DeleteCredential(t.Context(), credID) }, false, nil},
		{"remove provider", func() error { return c.DeleteProvider(t.Context(), "openai") },
			true, func(d *store.Data) bool { return len(d.Providers) == 0 && len(d.Keys) == 0 }},
		{"remove unknown provider (refused)", func() error { return c.DeleteProvider(t.Context(), "openai") }, false, nil},
		{"reads", func() error {
			_, err1 := c.Providers(t.Context())
			_, err2 := c.Credentials(t.Context(), admin.CredentialQuery{})
			_, err3 := c.Keys(t.Context(), admin.KeyQuery{})
			_, err4 := c.Tokens(t.Context())
			_, err5 := c.Backup(t.Context(), new(strings.Builder))
			return errors.Join(err1, err2, err3, err4, err5)
		}, false, nil},
	}
	for _, st := range steps {
		before := e.reloads.Load()
		err := st.call()
		after := e.reloads.Load()
		if st.reload {
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if after-before != 1 {
				t.Errorf("%s: %d reloads, want 1", st.name, after-before)
			}
			if d := e.lastLoad.Load(); d == nil || !st.sees(d) {
				t.Errorf("%s: the reload did not see the change: %+v", st.name, d)
			}
			continue
		}
		if st.name != "reads" && err == nil {
			t.Fatalf("%s: succeeded, want it refused", st.name)
		}
		if st.name == "reads" && err != nil {
			t.Fatalf("reads: %v", err)
		}
		if after != before {
			t.Errorf("%s: %d reloads, want none", st.name, after-before)
		}
	}
}

func TestFailedReloadKeepsTheWriteAndIsLogged(t *testing.T) {
	e := newEnv(t)
	boom := errors.New("snapshot build exploded")
	e.reloadErr.Store(&boom)

	p, err := e.client.CreateProvider(t.Context(), admin.Provider{Name: "openai", Type: admin.TypeOpenAI, BaseURL: "https://api.openai.com/v1"})
	if err != nil {
		t.Fatalf("the write must still be answered as done: %v", err)
	}
	if e.reloads.Load() != 1 {
		t.Errorf("reloads = %d, want 1", e.reloads.Load())
	}
	ps, err := e.st.Providers()
	if err != nil || !slices.ContainsFunc(ps, func(x store.Provider) bool { return x.Name == p.Name }) {
		t.Errorf("provider not stored after a failed reload: %v %v", ps, err)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "snapshot build exploded") || !strings.Contains(logs, "level=ERROR") {
		t.Errorf("the failed reload is not logged as an error; log:\n%s", logs)
	}
}

func TestReloadNotCalledForRefusedAuth(t *testing.T) {
	e := newEnv(t)
	for _, tok := range []string{"", "garbage", e.token(admin.ScopeProvidersRead)} {
		r := e.do(http.MethodPost, "/api/v1/providers", tok, `{"name":"x","type":"openai","base_url":"https://x.example"}`)
		if r.status != http.StatusUnauthorized && r.status != http.StatusForbidden {
			t.Fatalf("status = %d, want 401/403", r.status)
		}
	}
	if n := e.reloads.Load(); n != 0 {
		t.Errorf("unauthorised writes reloaded the proxy %d times", n)
	}
	if ps, _ := e.st.Providers(); len(ps) != 0 {
		t.Errorf("unauthorised writes stored %v", ps)
	}
}
