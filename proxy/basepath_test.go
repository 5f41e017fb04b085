package proxy_test

import (
	"testing"

	"github.com/aigw/aigw/store"
)

// A base URL that ends in the API version its clients send themselves
// (https://api.openai.com/v1 with an SDK that asks for /v1/chat/completions)
// reaches the upstream without the version said twice; a base URL with a
// version its clients do not send keeps it.
func TestBaseURLEndingInTheAPIVersionIsNotDoubled(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		provider, typ, base, path, want string
	}{
		{"oa", "openai", "/v1", "/oa/v1/chat/completions", "/v1/chat/completions"},
		{"an", "anthropic", "/v1/", "/an/v1/messages", "/v1/messages"},
		{"ge", "gemini", "/v1beta", "/ge/v1beta/models/gemini-2.5-flash:generateContent", "/v1beta/models/gemini-2.5-flash:generateContent"},
		{"ok", "openai-compatible", "/v1", "/ok/chat/completions", "/v1/chat/completions"},
		{"vb", "openai-compatible", "/v1", "/vb/v1beta/models", "/v1/v1beta/models"}, // another version: kept
	} {
		e.provider(tc.provider, tc.typ, func(p *store.Provider) { p.BaseURL = e.fake.URL + tc.base })
		cred := e.cred(tc.provider, "sk-"+tc.provider+"-secret", 1)
		key := e.key(store.KeyInput{Provider: tc.provider, Credentials: []string{cred}})
		h := bearer(key)
		body := chatBody
		if tc.typ == "gemini" {
			h = map[string]string{"x-goog-api-key": key}
			body = `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
		}
		if tc.typ == "anthropic" {
			h = map[string]string{"x-api-key": key}
			body = `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
		}
		e.do("POST", tc.path, h, body)
		if r, _ := e.fake.Last(); r.Path != tc.want {
			t.Errorf("%s base %q, client path %q: upstream saw %q, want %q", tc.typ, tc.base, tc.path, r.Path, tc.want)
		}
	}
}
