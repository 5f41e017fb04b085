package proxy_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/store"
)

// anthropicTurn is turn i of a Claude Code-style conversation: streamed,
// the whole history resent, metadata.user_id naming the session when set.
func anthropicTurn(conv, i int, userID string) string {
	var msgs []string
	for j := 0; j <= i; j++ {
		msgs = append(msgs, fmt.Sprintf(`{"role":"user","content":"conversation %d turn %d"}`, conv, j))
		if j < i {
			msgs = append(msgs, `{"role":"assistant","content":"ok"}`)
		}
	}
	meta := ""
	if userID != "" {
		meta = `,"metadata":{"user_id":"` + userID + `"}`
	}
	return `{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"system":"You are a coding agent.","messages":[` +
		strings.Join(msgs, ",") + `]` + meta + `}`
}

// credentialOf is the credential the fake saw on its newest request.
func credentialOf(t *testing.T, fake *proxytest.Server) string {
	t.Helper()
	r, ok := fake.Last()
	if !ok {
		t.Fatal("the upstream saw no request")
	}
	return r.Credential
}

func TestCacheAffinityKeepsEachConversationOnOneCredential(t *testing.T) {
	for _, tc := range []struct {
		name, source string
		header       func(conv int) map[string]string
		userID       func(conv int) string
	}{
		{"metadata.user_id", "metadata.user_id", nil, func(c int) string { return fmt.Sprintf("user_x_session_%d", c) }},
		{"session header", "header", func(c int) map[string]string { return map[string]string{"X-Aigw-Session": fmt.Sprint("s", c)} }, nil},
		{"prompt prefix", "prefix", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			key, _ := e.setup("anthropic", 4, "cache_affinity")
			seen := map[int]string{}
			used := map[string]bool{}
			for turn := range 4 {
				for conv := range 12 {
					h := map[string]string{"x-api-key": key}
					if tc.header != nil {
						for k, v := range tc.header(conv) {
							h[k] = v
						}
					}
					uid := ""
					if tc.userID != nil {
						uid = tc.userID(conv)
					}
					r := e.do("POST", "/p/v1/messages", h, anthropicTurn(conv, turn, uid))
					if r.status != 200 {
						t.Fatalf("conversation %d turn %d: %d %s", conv, turn, r.status, r.body)
					}
					got := credentialOf(t, e.fake)
					if first, ok := seen[conv]; ok && first != got {
						t.Fatalf("conversation %d moved from %s to %s at turn %d", conv, first, got, turn)
					}
					seen[conv] = got
					used[got] = true
					if hv := lastHeader(e.fake, "X-Aigw-Session"); hv != "" {
						t.Fatalf("the session header went upstream: %q", hv)
					}
				}
			}
			if len(used) < 2 {
				t.Fatalf("12 conversations all went to one credential of 4: %v", used)
			}
			for _, tr := range e.rec.wait(t, 48) {
				if tr.Affinity != tc.source || tr.Strategy != "cache_affinity" {
					t.Fatalf("trace affinity %q strategy %q, want %q cache_affinity", tr.Affinity, tr.Strategy, tc.source)
				}
			}
		})
	}
}

func lastHeader(fake *proxytest.Server, name string) string {
	r, _ := fake.Last()
	return r.Header.Get(name)
}

func TestCacheAffinityFallsBackWhenTheRequestNamesNoConversation(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 3, "cache_affinity")
	h := bearer(key)
	h["X-Aigw-Session"] = strings.Repeat("s", 600) // too long: ignored, the body decides
	for _, body := range []string{`{"model":"gpt-4o-mini"}`, `not json at all`} {
		if r := e.do("POST", "/p/v1/chat/completions", h, body); r.status >= 500 {
			t.Fatalf("%q: %d %s", body, r.status, r.body)
		}
	}
	if r := e.do("GET", "/p/v1/models", bearer(key), ""); r.status != 200 {
		t.Fatalf("GET models: %d %s", r.status, r.body)
	}
	want := []string{"none: body has no system prompt or messages", "none: body is not a JSON object", "none: the request has no body"}
	for i, tr := range e.rec.wait(t, 3) {
		if tr.Affinity != want[i] {
			t.Errorf("request %d: trace affinity %q, want %q", i, tr.Affinity, want[i])
		}
	}
}

func TestOtherStrategiesLeaveTheTracesAffinityEmpty(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 2, store.StrategyRoundRobin)
	e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	if tr := e.rec.wait(t, 1)[0]; tr.Affinity != "" {
		t.Fatalf("round_robin trace has affinity %q", tr.Affinity)
	}
}

// A cache_affinity pool of one credential has nothing to choose: the body
// is not read for a conversation key, and the trace says why.
func TestCacheAffinityWithOneCredentialReadsNoConversationKey(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "cache_affinity")
	body := `{"model":"gpt-4o-mini","prompt_cache_key":"conv-1","messages":[{"role":"user","content":"hi"}]}`
	if r := e.do("POST", "/p/v1/chat/completions", bearer(key), body); r.status != 200 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	if tr := e.rec.wait(t, 1)[0]; tr.Affinity != "none: the pool has one credential" || tr.Status != 200 {
		t.Fatalf("trace affinity %q status %d, want %q 200", tr.Affinity, tr.Status, "none: the pool has one credential")
	}
}
