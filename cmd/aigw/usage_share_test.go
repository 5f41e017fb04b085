package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/proxytest"
)

// postMessages sends an Anthropic messages request the way the Anthropic
// SDKs (and Claude Code) do: the gateway key in x-api-key.
func postMessages(t *testing.T, g *gw, secret string, stream bool) int {
	t.Helper()
	body := `{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`
	if stream {
		body = strings.Replace(body, `{"model"`, `{"stream":true,"model"`, 1)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+g.proxyAddr+"/claude/v1/messages", strings.NewReader(body))
	req.Header.Set("x-api-key", secret)
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// The cache-read share per credential and per key, as an operator reads it
// after real requests: `aigw usage --by credential|key` (JSON and table)
// and /metrics. The fake upstream reports Anthropic usage, whose
// input_tokens leaves out the cache reads and writes: the share's
// denominator adds them back.
func TestCacheReadShareByCredentialAndKey(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "claude", "--type", "anthropic", "--base-url", fake.URL)
	var credA, credB idOnly
	g.okJSON(t, &credA, "credential", "add", "--provider", "claude", "--secret", "sk-ant-team-a", "--name", "team-a")
	g.okJSON(t, &credB, "credential", "add", "--provider", "claude", "--secret", "sk-ant-team-b", "--name", "team-b")
	var keyA, keyB struct{ ID, Secret string }
	g.okJSON(t, &keyA, "key", "create", "--provider", "claude", "--credentials", credA.ID, "--name", "agent")
	g.okJSON(t, &keyB, "key", "create", "--provider", "claude", "--credentials", credB.ID, "--name", "batch", "--rpm", "1")

	// key A on credential A: one cache write, then two cache reads (one streamed).
	fake.SetUsage(proxytest.Usage{Prompt: 100, Completion: 10, CacheCreation: 900})
	if st := postMessages(t, g, keyA.Secret, false); st != 200 {
		t.Fatalf("status %d", st)
	}
	fake.SetUsage(proxytest.Usage{Prompt: 100, Completion: 10, CacheRead: 900})
	for _, stream := range []bool{false, true} {
		if st := postMessages(t, g, keyA.Secret, stream); st != 200 {
			t.Fatalf("status %d", st)
		}
	}
	// key B on credential B: one request, then one refused by its rpm limit
	// before any credential.
	fake.SetUsage(proxytest.Usage{Prompt: 800, Completion: 10, CacheRead: 200})
	if st := postMessages(t, g, keyB.Secret, false); st != 200 {
		t.Fatalf("status %d", st)
	}
	if st := postMessages(t, g, keyB.Secret, false); st != 429 {
		t.Fatalf("status %d; want 429 from the rpm limit", st)
	}
	if n := len(waitTraces(t, g, 5)); n != 5 {
		t.Fatalf("%d traces; want 5", n)
	}

	type row struct {
		Group           string   `json:"group"`
		Requests        int64    `json:"requests"`
		Errors          int64    `json:"errors"`
		PromptTokens    int64    `json:"prompt_tokens"`
		CacheReadTokens int64    `json:"cache_read_tokens"`
		CacheReadShare  *float64 `json:"cache_read_share"`
	}
	rowsBy := func(by string) map[string]row {
		var rows []row
		g.okJSON(t, &rows, "usage", "--by", by)
		out := map[string]row{}
		for _, r := range rows {
			if r.CacheReadShare == nil {
				t.Fatalf("usage --by %s -o json: row %q has no cache_read_share", by, r.Group)
			}
			out[r.Group] = r
		}
		return out
	}
	check := func(what string, got row, requests, errs, prompt, read int64, share float64) {
		t.Helper()
		if got.Requests != requests || got.Errors != errs || got.PromptTokens != prompt || got.CacheReadTokens != read || *got.CacheReadShare != share {
			t.Errorf("%s: %+v (share %v); want %d requests, %d errors, %d prompt tokens, %d cache reads, share %v",
				what, got, *got.CacheReadShare, requests, errs, prompt, read, share)
		}
	}
	// Credential A: prompts of 100+900 (write) and 2 × (100+900) (read): 1800 of 3000 read.
	creds := rowsBy("credential")
	check("credential A", creds[credA.ID], 3, 0, 3000, 1800, 0.6)
	check("credential B", creds[credB.ID], 1, 0, 1000, 200, 0.2)
	check("no credential (refused by a limit)", creds[""], 1, 1, 0, 0, 0)
	if len(creds) != 3 {
		t.Errorf("usage --by credential: %d rows; want 3", len(creds))
	}
	keys := rowsBy("key")
	check("key A", keys[keyA.ID], 3, 0, 3000, 1800, 0.6)
	check("key B", keys[keyB.ID], 2, 1, 1000, 200, 0.2)

	// The table: a CACHE% column; the requests of no credential under "-".
	table := g.ok(t, "usage", "--by", "credential")
	mustHave := func(line, want string) {
		t.Helper()
		if !strings.Contains(line, want) {
			t.Errorf("usage table line %q lacks %q\n%s", line, want, table)
		}
	}
	mustHave(lineOf(table, "CREDENTIAL"), "CACHE%")
	mustHave(lineOf(table, credA.ID), "60.0%")
	mustHave(lineOf(table, credB.ID), "20.0%")
	none := strings.Fields(lineOf(table, "\n- "))
	if len(none) != 9 || none[0] != "-" || none[1] != "1" || none[2] != "1" || none[7] != "-" {
		t.Errorf("no-credential row %q: want group -, 1 request, 1 error, CACHE%% -\n%s", none, table)
	}

	// Bad combinations are refused before any call, with the usage exit code.
	if r := g.cli(t, "", nil, "usage", "--by", "credential", "--key", keyA.ID); r.code != exitUsage || !strings.Contains(r.stderr, "--by credential") {
		t.Errorf("usage --by credential --key: exit %d, %q", r.code, r.stderr)
	}

	// /metrics: the same figures per credential and per key.
	token, err := os.ReadFile(filepath.Join(g.dir, admin.LocalTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	wants := []string{
		`aigw_credential_tokens_total{credential="` + credA.ID + `",kind="prompt"} 3000`,
		`aigw_credential_tokens_total{credential="` + credA.ID + `",kind="cache_read"} 1800`,
		`aigw_credential_tokens_total{credential="` + credA.ID + `",kind="cache_creation"} 900`,
		`aigw_credential_tokens_total{credential="` + credB.ID + `",kind="cache_read"} 200`,
		`aigw_key_tokens_total{key="` + keyA.ID + `",kind="cache_read"} 1800`,
		`aigw_key_tokens_total{key="` + keyB.ID + `",kind="prompt"} 1000`,
	}
	var metrics string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		metrics = scrapeMetrics(t, g.adminURL, strings.TrimSpace(string(token)))
		missing := ""
		for _, w := range wants {
			if !strings.Contains(metrics, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s", missing)
		}
	}
}

// lineOf is the first line of s that contains sub; a sub starting with
// "\n" matches the start of a line.
func lineOf(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if prefix, ok := strings.CutPrefix(sub, "\n"); ok && strings.HasPrefix(l, prefix) || !ok && strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
