package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxytest"
)

// `aigw serve --demo` answers the README's curl example on a machine with
// no internet: the printed key works through the proxy.
func TestDemoAnswersOutOfTheBox(t *testing.T) {
	g, err := tryStartGateway(t, t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	banner := g.out.String()
	if g.demo.KeySecret == "" || !strings.Contains(banner, g.demo.KeySecret) || !strings.Contains(banner, "curl") {
		t.Fatalf("demo banner does not show a key and a curl command:\n%s", banner)
	}
	resp := post(t, "http://"+g.proxyAddr+"/demo/v1/chat/completions", "Bearer "+g.demo.KeySecret,
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}`)
	var body struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if resp.status != 200 || json.Unmarshal([]byte(resp.body), &body) != nil || len(body.Choices) != 1 || body.Choices[0].Message.Content == "" {
		t.Fatalf("demo request: %d %s", resp.status, resp.body)
	}
	if !strings.Contains(banner, "aigw tui") || !strings.Contains(banner, "admin API is at http://") {
		t.Errorf("demo banner does not say where to manage the gateway:\n%s", banner)
	}
	// A second start keeps the demo key (its history stays under it) with a
	// new secret: the banner's key works, the old one does not.
	g.stop(t)
	g2, err := tryStartGateway(t, g.dir, true)
	if err != nil {
		t.Fatal(err)
	}
	var keys []map[string]any
	g2.okJSON(t, &keys, "key", "list")
	if len(keys) != 1 || keys[0]["id"] != g.demo.KeyID || g2.demo.KeyID != g.demo.KeyID {
		t.Fatalf("after a second --demo start, keys = %v (first run's key %s)", keys, g.demo.KeyID)
	}
	if r := post(t, "http://"+g2.proxyAddr+"/demo/v1/chat/completions", "Bearer "+g.demo.KeySecret, `{}`); r.status != 401 {
		t.Fatalf("the previous demo secret still works: %d", r.status)
	}
	if r := post(t, "http://"+g2.proxyAddr+"/demo/v1/chat/completions", "Bearer "+g2.demo.KeySecret,
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}`); r.status != 200 {
		t.Fatalf("the new demo secret: %d %s", r.status, r.body)
	}
}

type httpReply struct {
	status int
	body   string
}

func post(t *testing.T, url, auth, body string) httpReply {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpReply{resp.StatusCode, string(b)}
}

// The whole path as a user builds it with the CLI: provider, two
// credentials, a key; requests through the proxy; a credential the
// upstream rejects shows as invalid in `credential list`.
func TestConfiguredWithCLIThenProxied(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	fake.Program(proxytest.Rule{Credential: "sk-revoked-upstream-key", Status: 401})
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", fake.URL)
	var bad, good idOnly
	g.okJSON(t, &bad, "credential", "add", "--provider", "openai", "--secret", "sk-revoked-upstream-key")
	g.okJSON(t, &good, "credential", "add", "--provider", "openai", "--secret", "sk-working-upstream-key")
	var key struct{ Secret string }
	// round_robin: under the default cache_affinity the four identical
	// requests would all go to one credential, the bad one only by chance.
	g.okJSON(t, &key, "key", "create", "--provider", "openai", "--credentials", bad.ID+","+good.ID, "--strategy", "round_robin")
	for range 4 {
		if r := post(t, "http://"+g.proxyAddr+"/openai/v1/chat/completions", "Bearer "+key.Secret, chatJSON); r.status != 200 {
			t.Fatalf("request through the proxy: %d %s", r.status, r.body)
		}
	}
	var creds []struct {
		ID     string `json:"id"`
		Health struct {
			State     string `json:"state"`
			LastError string `json:"last_error"`
		} `json:"health"`
	}
	g.okJSON(t, &creds, "credential", "list")
	for _, c := range creds {
		want := "healthy"
		if c.ID == bad.ID {
			want = "invalid"
		}
		if c.Health.State != want {
			t.Errorf("credential %s state %q, want %q", c.ID, c.Health.State, want)
		}
	}
	if table := g.ok(t, "credential", "list"); !strings.Contains(table, "invalid until") {
		t.Errorf("credential list table does not show the invalid state:\n%s", table)
	}
}

const chatJSON = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
