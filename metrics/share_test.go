package metrics

import (
	"strconv"
	"strings"
	"testing"

	"github.com/aigw/aigw/store"
)

// Each credential and key gets its prompt, cache_read and cache_creation
// counters, from which the cache-read share is a division; requests that
// reached no credential or carried no tokens add nothing.
func TestCredentialAndKeyTokenCounters(t *testing.T) {
	m := New(Sources{})
	tr := func(key, cred string, prompt, read, write int64) *store.Trace {
		return &store.Trace{Provider: "anthropic", KeyID: key, CredentialID: cred, Status: 200, Model: "claude-sonnet-4-5",
			PromptTokens: prompt, CompletionTokens: 5, CacheReadTokens: read, CacheCreationTokens: write, CostKnown: true}
	}
	m.Observe(tr("key_1", "cred_a", 1000, 0, 900))
	m.Observe(tr("key_1", "cred_a", 1000, 900, 0))
	m.Observe(tr("key_2", "cred_b", 400, 100, 0))
	m.Observe(&store.Trace{Provider: "anthropic", KeyID: "key_2", Status: 429}) // no credential, no tokens
	out := scrape(t, m)
	for _, want := range []string{
		`aigw_credential_tokens_total{credential="cred_a",kind="prompt"} 2000`,
		`aigw_credential_tokens_total{credential="cred_a",kind="cache_read"} 900`,
		`aigw_credential_tokens_total{credential="cred_a",kind="cache_creation"} 900`,
		`aigw_credential_tokens_total{credential="cred_b",kind="prompt"} 400`,
		`aigw_credential_tokens_total{credential="cred_b",kind="cache_read"} 100`,
		`aigw_key_tokens_total{key="key_1",kind="cache_read"} 900`,
		`aigw_key_tokens_total{key="key_2",kind="prompt"} 400`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(out, `credential=""`) || strings.Count(out, "aigw_credential_tokens_total{") != 6 {
		t.Errorf("want 6 credential series (2 credentials × 3 kinds), none for no credential:\n%s", grepLines(out, "aigw_credential_tokens_total{"))
	}
}

// Past MaxShareSeries keys, new keys count under key="other": the series
// stay bounded and the totals exact; keys seen before keep theirs.
func TestKeyTokenSeriesBounded(t *testing.T) {
	m := New(Sources{})
	n := MaxShareSeries + 500
	for i := range n {
		m.Observe(&store.Trace{Provider: "openai", KeyID: "key_" + strconv.Itoa(i), CredentialID: "cred_a", Status: 200,
			Model: "gpt-4o", PromptTokens: 10, CacheReadTokens: 4, CostKnown: true})
	}
	m.Observe(&store.Trace{Provider: "openai", KeyID: "key_0", CredentialID: "cred_a", Status: 200, Model: "gpt-4o", PromptTokens: 10, CostKnown: true})
	out := scrape(t, m)
	for _, want := range []string{
		`aigw_key_tokens_total{key="key_0",kind="prompt"} 20`,
		`aigw_key_tokens_total{key="key_999",kind="prompt"} 10`,
		`aigw_key_tokens_total{key="other",kind="prompt"} 5000`,
		`aigw_key_tokens_total{key="other",kind="cache_read"} 2000`,
		`aigw_credential_tokens_total{credential="cred_a",kind="prompt"} ` + strconv.Itoa(10*n+10),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if got := strings.Count(out, "aigw_key_tokens_total{"); got != 3*(MaxShareSeries+1) {
		t.Errorf("%d key token series; want %d (3 kinds × (%d keys + other))", got, 3*(MaxShareSeries+1), MaxShareSeries)
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
