package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/store"
)

func TestClientErrorMapping(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	if _, err := e.st.CreateProvider(store.Provider{Name: "anthropic", Type: admin.TypeAnthropic, BaseURL: "https://api.anthropic.com"}); err != nil {
		t.Fatal(err)
	}
	antCred, err := e.st.CreateCredential(store.CredentialInput{Provider: "anthropic", Secret: "sk-ant-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	revoked, _, err := e.st.CreateKey(store.KeyInput{Provider: "openai", Credentials: []string{f.spare.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.RevokeKey(revoked.ID); err != nil {
		t.Fatal(err)
	}
	c := e.client

	cases := []struct {
		name      string
		call      func() error
		status    int
		field     string
		wantInMsg []string
	}{
		// 400: validation, naming the field.
		{"provider with an ftp base_url", func() error {
			_, err := c.CreateProvider(t.Context(), admin.Provider{Name: "x", Type: admin.TypeOpenAI, BaseURL: "ftp://x.example"})
			return err
		}, 400, "base_url", []string{"ftp://x.example"}},
		{"provider base_url with a query", func() error {
			_, err := c.CreateProvider(t.Context(), admin.Provider{Name: "x", Type: admin.TypeOpenAI, BaseURL: "https://x.example?a=1"})
			return err
		}, 400, "base_url", nil},
		{"provider name with a capital and a space", func() error {
			_, err := c.CreateProvider(t.Context(), admin.Provider{Name: "My API", Type: admin.TypeOpenAI, BaseURL: "https://x.example"})
			return err
		}, 400, "name", []string{"My API"}},
		{"provider of an unknown type", func() error {
			_, err := c.CreateProvider(t.Context(), admin.Provider{Name: "x", Type: "mistral", BaseURL: "https://x.example"})
			return err
		}, 400, "type", []string{"mistral"}},
		{"auth header without {key}", func() error {
			_, err := c.CreateProvider(t.Context(), admin.Provider{Name: "x", Type: admin.TypeOpenAI, BaseURL: "https://x.example", AuthHeaders: []string{"Authorization: Bearer"}})
			return err
		}, 400, "auth_headers", []string{"{key}"}},
		{"provider update to a bad base_url", func() error {
			_, err := c.UpdateProvider(t.Context(), "openai", admin.ProviderPatch{BaseURL: ptr("not a url")})
			return err
		}, 400, "base_url", nil},
		{"credential with an empty secret", func() error {
			_, err := c.CreateCredential(t.Context(), admin.CredentialInput{Provider: "openai"})
			return err
		}, 400, "secret", nil},
		{"credential with weight 0", func() error {
			_, err := c.CreateCredential(t.Context(), admin.CredentialInput{Provider: "openai", Secret: "sk-0123456789abcdef", Weight: ptr(0)})
			return err
		}, 400, "weight", nil},
		{"credential update with weight 1001", func() error {
			_, err := c.UpdateCredential(t.Context(), f.cred.ID, admin.CredentialPatch{Weight: ptr(1001)})
			return err
		}, 400, "weight", nil},
		{"key over another provider's credential", func() error {
			_, err := c.CreateKey(t.Context(), admin.KeyInput{Provider: "openai", Credentials: []string{antCred.ID}})
			return err
		}, 400, "credentials", []string{antCred.ID}},
		{"key over a credential that does not exist", func() error {
			_, err := c.CreateKey(t.Context(), admin.KeyInput{Provider: "openai", Credentials: []string{"cred_nope"}})
			return err
		}, 400, "credentials", []string{"cred_nope"}},
		{"key without credentials", func() error {
			_, err := c.CreateKey(t.Context(), admin.KeyInput{Provider: "openai"})
			return err
		}, 400, "credentials", nil},
		{"key with an unknown strategy", func() error {
			_, err := c.CreateKey(t.Context(), admin.KeyInput{Provider: "openai", Credentials: []string{f.cred.ID}, Strategy: "random"})
			return err
		}, 400, "strategy", []string{"random"}},
		{"key with max_retries 11", func() error {
			_, err := c.CreateKey(t.Context(), admin.KeyInput{Provider: "openai", Credentials: []string{f.cred.ID}, MaxRetries: ptr(11)})
			return err
		}, 400, "max_retries", nil},
		{"key update with a negative rpm", func() error {
			_, err := c.UpdateKey(t.Context(), f.key.ID, admin.KeyPatch{RPM: ptr(int64(-1))})
			return err
		}, 400, "rpm", nil},
		{"update of a revoked key", func() error {
			_, err := c.UpdateKey(t.Context(), revoked.ID, admin.KeyPatch{Name: ptr("new")})
			return err
		}, 400, "id", []string{"revoked"}},

		// 404: unknown names and ids.
		{"unknown provider", func() error { _, err := c.Provider(t.Context(), "nope"); return err }, 404, "", []string{"nope"}},
		{"update of an unknown provider", func() error {
			_, err := c.UpdateProvider(t.Context(), "nope", admin.ProviderPatch{Timeout: nil})
			return err
		}, 404, "", []string{"nope"}},
		{"delete of an unknown provider", func() error { return c.DeleteProvider(t.Context(), "nope") }, 404, "", []string{"nope"}},
		{"credential for an unknown provider", func() error {
			_, err := c.CreateCredential(t.Context(), admin.CredentialInput{Provider: "nope", Secret: "sk-0123456789abcdef"})
			return err
		}, 404, "", []string{"nope"}},
		{"credentials of an unknown provider", func() error {
			_, err := c.Credentials(t.Context(), admin.CredentialQuery{Provider: "nope"})
			return err
		}, 404, "", []string{"nope"}},
		{"unknown credential", func() error { _, err := c.Credential(t.Context(), "cred_nope"); return err }, 404, "", []string{"cred_nope"}},
		{"update of an unknown credential", func() error {
			_, err := c.UpdateCredential(t.Context(), "cred_nope", admin.CredentialPatch{Enabled: ptr(false)})
			return err
		}, 404, "", nil},
		{"delete of an unknown credential", func() error { return c.DeleteCredential(t.Context(), "cred_nope") }, 404, "", nil},
		{"key for an unknown provider", func() error {
			_, err := c.CreateKey(t.Context(), admin.KeyInput{Provider: "nope", Credentials: []string{f.cred.ID}})
			return err
		}, 404, "", []string{"nope"}},
		{"unknown key", func() error { _, err := c.Key(t.Context(), "key_nope"); return err }, 404, "", []string{"key_nope"}},
		{"update of an unknown key", func() error {
			_, err := c.UpdateKey(t.Context(), "key_nope", admin.KeyPatch{Name: ptr("x")})
			return err
		}, 404, "", nil},
		{"revoke of an unknown key", func() error { _, err := c.RevokeKey(t.Context(), "key_nope"); return err }, 404, "", nil},

		// 409: duplicates and removals of what is still in use.
		{"duplicate provider", func() error {
			_, err := c.CreateProvider(t.Context(), admin.Provider{Name: "openai", Type: admin.TypeOpenAI, BaseURL: "https://other.example"})
			return err
		}, 409, "", []string{"openai", "exists"}},
		{"remove a provider an active key uses", func() error { return c.DeleteProvider(t.Context(), "openai") }, 409, "", []string{f.key.ID}},
		{"remove a provider that still has credentials", func() error { return c.DeleteProvider(t.Context(), "anthropic") }, 409, "", []string{antCred.ID}},
		{"remove a credential an active key uses", func() error { return c.DeleteCredential(t.Context(), f.cred.ID) }, 409, "", []string{f.key.ID}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, reloads := e.snapshot(), e.reloads.Load()
			ae := wantAPIError(t, tc.call(), tc.status, tc.field)
			if tc.status != http.StatusBadRequest && ae.Field != "" {
				t.Errorf("field = %q on a %d answer", ae.Field, tc.status)
			}
			for _, want := range tc.wantInMsg {
				if !strings.Contains(ae.Message, want) {
					t.Errorf("message %q does not contain %q", ae.Message, want)
				}
			}
			if after := e.snapshot(); after != before {
				t.Errorf("a refused request changed the stored data:\nbefore %s\nafter  %s", before, after)
			}
			if n := e.reloads.Load() - reloads; n != 0 {
				t.Errorf("a refused request reloaded the proxy %d times", n)
			}
		})
	}
}

func TestBadRequestBodies(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	cases := []struct {
		name      string
		method    string
		path      string
		body      string
		field     string
		wantInMsg string
	}{
		{"unknown field", http.MethodPost, "/api/v1/providers",
			`{"name":"x","type":"openai","base_url":"https://x.example","colour":"red"}`, "colour", "colour"},
		{"unknown field in a patch", http.MethodPatch, "/api/v1/providers/openai", `{"base_url":"https://x.example","nmae":"y"}`, "nmae", "nmae"},
		{"weight as a string", http.MethodPost, "/api/v1/credentials",
			`{"provider":"openai","secret":"sk-0123456789abcdef","weight":"3"}`, "weight", "weight"},
		{"enabled as a string", http.MethodPatch, "/api/v1/credentials/" + f.cred.ID, `{"enabled":"yes"}`, "enabled", "enabled"},
		{"credentials as a string", http.MethodPost, "/api/v1/keys",
			`{"provider":"openai","credentials":"` + f.cred.ID + `"}`, "credentials", "credentials"},
		{"rpm as a string", http.MethodPost, "/api/v1/keys",
			`{"provider":"openai","credentials":["` + f.cred.ID + `"],"rpm":"10"}`, "rpm", "rpm"},
		{"negative daily_cost", http.MethodPost, "/api/v1/keys",
			`{"provider":"openai","credentials":["` + f.cred.ID + `"],"daily_cost":-0.5}`, "daily_cost", "daily_cost"},
		{"negative daily_cost in a patch", http.MethodPatch, "/api/v1/keys/" + f.key.ID, `{"daily_cost":-1}`, "daily_cost", "daily_cost"},
		{"daily_cost beyond float64", http.MethodPatch, "/api/v1/keys/" + f.key.ID, `{"daily_cost":1e999}`, "daily_cost", "daily_cost"},
		{"daily_cost NaN (not JSON)", http.MethodPatch, "/api/v1/keys/" + f.key.ID, `{"daily_cost":NaN}`, "", "not valid JSON"},
		{"invalid JSON", http.MethodPost, "/api/v1/providers", `{"name":"x",`, "", "not valid JSON"},
		{"not JSON at all", http.MethodPost, "/api/v1/keys", `provider=openai`, "", "not valid JSON"},
		{"empty body", http.MethodPost, "/api/v1/credentials", ``, "", "not valid JSON"},
		{"data after the object", http.MethodPost, "/api/v1/providers",
			`{"name":"x","type":"openai","base_url":"https://x.example"} {"name":"y"}`, "", "not valid JSON"},
		{"garbage after the object", http.MethodPatch, "/api/v1/credentials/" + f.cred.ID, `{"enabled":false}]`, "", "not valid JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, reloads := e.snapshot(), e.reloads.Load()
			r := e.do(tc.method, tc.path, e.adminToken, tc.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status = %d %s, want 400", r.status, r.body)
			}
			msg, field := r.errorBody(t)
			if field != tc.field {
				t.Errorf("field = %q, want %q (message %q)", field, tc.field, msg)
			}
			if !strings.Contains(msg, tc.wantInMsg) {
				t.Errorf("message %q does not contain %q", msg, tc.wantInMsg)
			}
			if after := e.snapshot(); after != before {
				t.Errorf("a refused request changed the stored data:\nbefore %s\nafter  %s", before, after)
			}
			if n := e.reloads.Load() - reloads; n != 0 {
				t.Errorf("a refused request reloaded the proxy %d times", n)
			}
		})
	}
}

// TestClientSeesServerErrorsAsAPIError checks the client side of the
// mapping: status, message and field come through unchanged.
func TestClientSeesServerErrorsAsAPIError(t *testing.T) {
	e := newEnv(t)
	_, err := e.client.CreateProvider(t.Context(), admin.Provider{Name: "x", Type: admin.TypeOpenAI, BaseURL: "ftp://x"})
	ae := wantAPIError(t, err, http.StatusBadRequest, "base_url")
	raw := e.do(http.MethodPost, "/api/v1/providers", e.adminToken, `{"name":"x","type":"openai","base_url":"ftp://x"}`)
	msg, field := raw.errorBody(t)
	if ae.Message != msg || ae.Field != field {
		t.Errorf("client error = %q/%q, server said %q/%q", ae.Message, ae.Field, msg, field)
	}
	if ae.Error() != msg {
		t.Errorf("APIError.Error() = %q, want the server's message %q", ae.Error(), msg)
	}
}

// A body as curl sends it, with a trailing newline, is fine.
func TestBodyWithTrailingNewlineIsAccepted(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodPost, "/api/v1/providers", e.adminToken, "{\"name\":\"x\",\"type\":\"openai\",\"base_url\":\"https://x.example\"}\n\n")
	if r.status != http.StatusCreated {
		t.Fatalf("status = %d %s, want 201", r.status, r.body)
	}
}
