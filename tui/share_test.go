package tui

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/proxytest"
	"github.com/charmbracelet/x/exp/teatest"
)

// The cache-read share: a CACHE column on the Keys page and the Usage page
// (every grouping, credentials by name), a line in the selected key's and
// credential's details.
func TestCacheReadShareOnKeysCredentialsAndUsage(t *testing.T) {
	m := keysModel(t)
	press(m, "H") // list the revoked key too
	v := m.View()
	if f := strings.Fields(screenLine(v, "› billing")); f[len(f)-2] != "60.0%" {
		t.Errorf("billing row %v: want its cache share 60.0%% before LAST USED", f)
	}
	if f := strings.Fields(screenLine(v, "support-bot")); f[len(f)-2] != "0.0%" {
		t.Errorf("support row %v: want 0.0%% (prompt tokens, no cache reads)", f)
	}
	if f := strings.Fields(screenLine(v, "key_old")); f[len(f)-2] != "-" {
		t.Errorf("old row %v: want - (no prompt tokens today)", f)
	}
	mustContain(t, screenLine(v, "cache "), "60.0% of today's prompt read from cache (1.7M of 2.9M tokens)")
	checkFits(t, v, 80, 24)

	m = credentialsModel(t)
	v = m.View()
	mustContain(t, screenLine(v, "cache "), "80.0% of today's prompt read from cache (2.5M of 3.1M tokens)")
	press(m, "j")
	mustContain(t, screenLine(m.View(), "cache "), "no prompt tokens today")

	m = newTestModel(t, nil)
	press(m, "6", "b", "b", "b", "b") // by credential
	send(m, usageLoadedMsg{By: "credential", Period: 1, KeyNames: map[string]string{"cred_anthropic1": "team-a"}, Rows: []admin.UsageRow{
		{Group: "cred_anthropic1", Requests: 10, PromptTokens: 3000, CacheReadTokens: 1800, CacheReadShare: 0.6, CostUSD: 2},
		{Group: "cred_openai1", Requests: 5, PromptTokens: 1000, CacheReadTokens: 200, CacheReadShare: 0.2, CostUSD: 1},
		{Group: "", Requests: 2, Errors: 2},
	}})
	v = m.View()
	mustContain(t, v, "[credential]")
	for _, tc := range []struct{ line, share string }{{"team-a (cred_anthropic1)", "60.0%"}, {"cred_openai1", "20.0%"}, {"(no credential)", "-"}} {
		line := screenLine(v, tc.line)
		if f := strings.Fields(strings.TrimRight(line, " █▏▎▍▌▋▊▉")); len(f) == 0 || f[len(f)-1] != tc.share {
			t.Errorf("usage row %q: want cache share %s", line, tc.share)
		}
	}
	mustContain(t, v, "Total  17 requests · 2 errors · 4000 tokens · $3.0000 · cache read 50.0%")
	checkFits(t, v, 80, 24)
}

// The real TUI against a real gateway: after Anthropic requests whose usage
// reports cache reads, the Usage page grouped by credential and the
// Credentials page show the credential's cache-read share.
func TestCacheReadShareEndToEnd(t *testing.T) {
	g := startGateway(t, t.TempDir(), "127.0.0.1:0")
	fake := proxytest.NewServer()
	t.Cleanup(fake.Close)
	client := g.client(t)
	ctx := t.Context()
	if _, err := client.CreateProvider(ctx, admin.Provider{Name: "claude", Type: admin.TypeAnthropic, BaseURL: fake.URL}); err != nil {
		t.Fatal(err)
	}
	cred, err := client.CreateCredential(ctx, admin.CredentialInput{Provider: "claude", Name: "team-a", Secret: "sk-ant-e2e-0001"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := client.CreateKey(ctx, admin.KeyInput{Provider: "claude", Credentials: []string{cred.ID}, Name: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	// input 250 + cache write 0 + cache read 750: 75% of the prompt from the cache.
	fake.SetUsage(proxytest.Usage{Prompt: 250, Completion: 20, CacheRead: 750})
	for range 2 {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+g.proxyAddr+"/claude/v1/messages",
			strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("x-api-key", key.Secret)
		req.Header.Set("content-type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// The trace writer commits within its flush interval.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rows, err := client.Usage(ctx, admin.UsageQuery{By: admin.GroupByCredential})
		if err == nil && len(rows) == 1 && rows[0].Requests == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage by credential: %v, %v", rows, err)
		}
	}

	tm := teatest.NewTestModel(t, New(Options{Client: client, Context: ctx, Renderer: asciiRenderer(), Location: time.UTC}),
		teatest.WithInitialTermSize(80, 24))
	t.Cleanup(func() {
		tm.Send(keyPress("ctrl+c"))
		tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	})
	tm.Send(keyPress("6"))
	waitFor(t, tm, "[key]")
	for range 4 {
		tm.Send(keyPress("b"))
	}
	waitFor(t, tm, "[credential]", "team-a ("+cred.ID+")", "75.0%")
	tm.Send(keyPress("4"))
	waitFor(t, tm, "75.0% of today's prompt read from cache (1500 of 2000 tokens)")
}

// A gateway from before the credential roll-ups refuses by=credential: the
// Credentials page still loads, without a cache line.
func TestCredentialsPageWithAGatewayWithoutCredentialUsage(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/credentials", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(admin.CredentialPage{Credentials: fixtureCredentials().Credentials})
	})
	mux.HandleFunc("GET /api/v1/providers", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(fixtureProviders())
	})
	mux.HandleFunc("GET /api/v1/usage", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"message":"invalid by: \"credential\" is not one of key, model, provider, day","field":"by"}}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	m := newTestModel(t, admin.NewClient(srv.URL, "test-token"))
	cmd := press(m, "4")
	for range 3 { // the page's load, run as the runtime would
		if cmd == nil {
			break
		}
		cmd = send(m, cmd())
	}
	v := m.View()
	mustContain(t, v, "cred_anthropic1", "team-a (cred_anthropic1)")
	mustNotContain(t, v, "cannot load", "cache ")
}
