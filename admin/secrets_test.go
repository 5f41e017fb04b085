package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/store"
)

func TestKeySecretIsShownOnce(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()

	created := e.do(http.MethodPost, "/api/v1/keys", e.adminToken,
		`{"provider":"openai","credentials":["`+f.cred.ID+`"],"name":"web"}`)
	if created.status != http.StatusCreated {
		t.Fatalf("create key = %d %s", created.status, created.body)
	}
	var out struct {
		ID      string `json:"id"`
		Secret  string `json:"secret"`
		Preview string `json:"preview"`
	}
	if err := json.Unmarshal(created.body, &out); err != nil {
		t.Fatal(err)
	}
	if out.ID == "" || !strings.HasPrefix(out.Secret, store.KeySecretPrefix) {
		t.Fatalf("create answered id %q secret %q, want an id and an aigw_ secret", out.ID, out.Secret)
	}
	if strings.Contains(out.Preview, out.Secret) || !strings.HasPrefix(out.Secret, strings.TrimSuffix(out.Preview, "…")) {
		t.Errorf("preview %q should be a short prefix of the secret", out.Preview)
	}
	// The secret is the one the proxy will accept.
	d, err := e.st.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range d.Keys {
		if k.ID == out.ID && k.Hash != store.HashKey([]byte(out.Secret)) {
			t.Errorf("stored hash does not match the secret handed out")
		}
	}

	reads := []struct{ method, path, body string }{
		{http.MethodGet, "/api/v1/keys/" + out.ID, ""},
		{http.MethodGet, "/api/v1/keys", ""},
		{http.MethodPatch, "/api/v1/keys/" + out.ID, `{"name":"web2"}`},
		{http.MethodPost, "/api/v1/keys/" + out.ID + "/revoke", ""},
		{http.MethodGet, "/api/v1/keys/" + out.ID, ""}, // revoked
	}
	for _, r := range reads {
		resp := e.do(r.method, r.path, e.adminToken, r.body)
		if resp.status != http.StatusOK {
			t.Fatalf("%s %s = %d %s", r.method, r.path, resp.status, resp.body)
		}
		if strings.Contains(string(resp.body), out.Secret) {
			t.Errorf("%s %s shows the key secret again: %s", r.method, r.path, resp.body)
		}
		if strings.Contains(string(resp.body), f.secret) {
			t.Errorf("%s %s shows the fixture key's secret", r.method, r.path)
		}
	}
}

func TestCredentialSecretsAreNeverReturned(t *testing.T) {
	e := newEnv(t)
	if _, err := e.st.CreateProvider(store.Provider{Name: "openai", Type: admin.TypeOpenAI, BaseURL: "https://api.openai.com/v1"}); err != nil {
		t.Fatal(err)
	}
	const rotated = "sk-ROTATEDsecret-99887766554433"
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)

	created := e.do(http.MethodPost, "/api/v1/credentials", e.adminToken, `{"provider":"openai","name":"oauth",`+
		`"secret":"`+credSecret+`","oauth_token_url":"https://auth.example.com/token",`+
		`"oauth_refresh_token":"`+refreshSecret+`","oauth_client_id":"cli","expires_at":"`+exp+`"}`)
	if created.status != http.StatusCreated {
		t.Fatalf("create credential = %d %s", created.status, created.body)
	}
	var c admin.Credential
	if err := json.Unmarshal(created.body, &c); err != nil {
		t.Fatal(err)
	}
	if c.ID == "" || c.Kind != admin.KindOAuth || c.OAuth == nil || c.OAuth.TokenURL != "https://auth.example.com/token" {
		t.Fatalf("created credential = %+v, want an OAuth credential with its token URL", c)
	}
	if !strings.HasPrefix(c.Preview, "sk-") || !strings.HasSuffix(c.Preview, credSecret[len(credSecret)-4:]) {
		t.Errorf("preview = %q, want sk-…%s", c.Preview, credSecret[len(credSecret)-4:])
	}

	answers := []response{created}
	for _, r := range []struct{ method, path, body string }{
		{http.MethodGet, "/api/v1/credentials/" + c.ID, ""},
		{http.MethodGet, "/api/v1/credentials", ""},
		{http.MethodGet, "/api/v1/credentials?provider=openai", ""},
		{http.MethodPatch, "/api/v1/credentials/" + c.ID, `{"secret":"` + rotated + `","weight":3}`},
		{http.MethodGet, "/api/v1/credentials/" + c.ID, ""},
		{http.MethodGet, "/api/v1/backup", ""}, // sealed at rest: the backup file holds no plaintext either
	} {
		resp := e.do(r.method, r.path, e.adminToken, r.body)
		if resp.status != http.StatusOK {
			t.Fatalf("%s %s = %d %s", r.method, r.path, resp.status, resp.body)
		}
		answers = append(answers, resp)
	}
	for i, a := range answers {
		for _, secret := range []string{credSecret, refreshSecret, rotated} {
			if strings.Contains(string(a.body), secret) {
				t.Errorf("answer %d contains the secret %q", i, secret)
			}
		}
	}

	// They were stored all the same: the proxy gets them.
	d, err := e.st.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Credentials) != 1 || d.Credentials[0].Secret != rotated || d.Credentials[0].RefreshToken != refreshSecret {
		t.Errorf("stored credential = %+v, want the rotated secret and the refresh token", d.Credentials)
	}
}
