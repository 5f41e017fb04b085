package proxy_test

import (
	"encoding/json"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxy"
	"github.com/aigw/aigw/proxy/usage"
	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/store"
)

// Every API's plain and streamed answers give the trace the exact usage the
// upstream reported, normalised: prompt counts include cache reads/writes,
// completion counts include reasoning.
func TestTracesCarryExactUsage(t *testing.T) {
	u := proxytest.DefaultUsage
	p, c, cw, cr, r := int64(u.Prompt), int64(u.Completion), int64(u.CacheCreation), int64(u.CacheRead), int64(u.Reasoning)
	type want struct{ prompt, completion, cacheW, cacheR int64 }
	openai := want{p, c, 0, cr}
	anthropic := want{p + cw + cr, c, cw, cr}
	gemini := want{p, c + r, 0, cr}
	cases := []struct {
		name, typ, path, body, model string
		hdr                          func(string) map[string]string
		want                         want
		stream                       bool
	}{
		{"openai chat", "openai", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, "gpt-4o-mini", bearer, openai, false},
		{"openai chat stream (usage injected)", "openai", "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "gpt-4o-mini", bearer, openai, true},
		{"openai chat stream (client asked usage)", "openai", "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`, "gpt-4o-mini", bearer, openai, true},
		{"openai responses", "openai", "/v1/responses", `{"model":"gpt-4o-mini","input":"hi"}`, "gpt-4o-mini", bearer, openai, false},
		{"openai responses stream", "openai", "/v1/responses", `{"model":"gpt-4o-mini","input":"hi","stream":true}`, "gpt-4o-mini", bearer, openai, true},
		{"anthropic messages", "anthropic", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, "claude-sonnet-4-5", xAPIKey, anthropic, false},
		{"anthropic stream", "anthropic", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, "claude-sonnet-4-5", xAPIKey, anthropic, true},
		{"gemini generate", "gemini", "/v1beta/models/gemini-2.5-flash:generateContent", `{"contents":[{"parts":[{"text":"hi"}]}]}`, "gemini-2.5-flash", googKey, gemini, false},
		{"gemini stream sse", "gemini", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", `{"contents":[{"parts":[{"text":"hi"}]}]}`, "gemini-2.5-flash", googKey, gemini, true},
		{"gemini stream array", "gemini", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", `{"contents":[{"parts":[{"text":"hi"}]}]}`, "gemini-2.5-flash", googKey, gemini, true},
	}
	prices := usage.DefaultPrices()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			key, _ := e.setup(tc.typ, 1, "round_robin")
			if r := e.do("POST", "/p"+tc.path, tc.hdr(key), tc.body); r.status != 200 {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			tr := e.rec.wait(t, 1)[0]
			got := want{tr.PromptTokens, tr.CompletionTokens, tr.CacheCreationTokens, tr.CacheReadTokens}
			if got != tc.want {
				t.Fatalf("usage %+v, want %+v", got, tc.want)
			}
			if !strings.HasPrefix(tr.Model, tc.model) || tr.UsageSource != "response" || tr.Stream != tc.stream {
				t.Errorf("model %q source %q stream %v", tr.Model, tr.UsageSource, tr.Stream)
			}
			var long int64
			if tc.typ == "anthropic" {
				long = int64(u.CacheCreation1h)
			}
			if int64(tr.CacheWrite1hTokens) != long || int64(tr.CacheWrite5mTokens) != got.cacheW-long {
				t.Errorf("cache writes 5m %d 1h %d, want %d %d", tr.CacheWrite5mTokens, tr.CacheWrite1hTokens, got.cacheW-long, long)
			}
			wantCost, known := prices.Cost(usage.Usage{Model: tr.Model, PromptTokens: got.prompt, CompletionTokens: got.completion,
				CacheCreationTokens: got.cacheW, CacheReadTokens: got.cacheR, CacheWrite5mTokens: got.cacheW - long,
				CacheWrite1hTokens: long, Source: usage.SourceResponse})
			if !known || !tr.CostKnown || math.Abs(tr.CostUSD-wantCost) > 1e-12 || tr.CostUSD <= 0 {
				t.Errorf("cost %v known %v, want %v", tr.CostUSD, tr.CostKnown, wantCost)
			}
		})
	}
}

// With usage injected, the client receives exactly the stream it asked
// for: no usage chunk, no "usage":null members.
func TestInjectedUsageIsInvisibleToTheClient(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin")
	got := e.do("POST", "/p/v1/chat/completions", bearer(key), chatStreamBody)
	if strings.Contains(got.body, "usage") {
		t.Fatalf("the client's stream carries usage it did not ask for:\n%s", got.body)
	}
	seen, _ := e.fake.Last()
	if !strings.Contains(string(seen.Body), `"include_usage":true`) {
		t.Fatalf("aigw did not ask the upstream for usage: %s", seen.Body)
	}
	direct := e.direct("POST", "/v1/chat/completions", map[string]string{"Authorization": "Bearer sk-0-secret-value"}, chatStreamBody)
	if strip(got.body) != strip(direct.body) {
		t.Fatalf("stream differs from the one the client asked for:\n%s\n---\n%s", got.body, direct.body)
	}
	if tr := e.rec.wait(t, 1)[0]; tr.PromptTokens == 0 {
		t.Fatal("the trace has no usage")
	}

	// Turned off: the request goes as sent and the trace says usage is unknown.
	e2 := newEnv(t, func(c *proxy.Config) { c.InjectStreamUsage = false })
	key2, _ := e2.setup("openai", 1, "round_robin")
	e2.do("POST", "/p/v1/chat/completions", bearer(key2), chatStreamBody)
	if seen, _ := e2.fake.Last(); strings.Contains(string(seen.Body), "include_usage") {
		t.Fatal("include_usage injected although turned off")
	}
	if tr := e2.rec.wait(t, 1)[0]; tr.UsageSource != "none" || tr.CostKnown || tr.CostUSD != 0 {
		t.Fatalf("unreadable usage: source %q cost_known %v cost %v", tr.UsageSource, tr.CostKnown, tr.CostUSD)
	}
}

// strip removes the per-request ids and timestamps of the fake's chunks.
func strip(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if rest, ok := strings.CutPrefix(l, "data: {"); ok {
			var m map[string]any
			if json.Unmarshal([]byte("{"+rest), &m) == nil {
				delete(m, "id")
				delete(m, "created")
				b, _ := json.Marshal(m)
				l = "data: " + string(b)
			}
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func TestUnknownModelCostIsMarkedUnknown(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin")
	e.do("POST", "/p/v1/chat/completions", bearer(key), `{"model":"my-private-finetune","messages":[]}`)
	tr := e.rec.wait(t, 1)[0]
	if tr.Model != "my-private-finetune" || tr.CostKnown || tr.CostUSD != 0 || tr.PromptTokens == 0 {
		t.Fatalf("unknown model: %+v", tr)
	}
	// Priced through an override, it is known.
	e2 := newEnv(t, func(c *proxy.Config) {
		c.Prices = usage.DefaultPrices().With(map[string]usage.Price{"my-private-finetune": {Input: 1, Output: 2}})
	})
	key2, _ := e2.setup("openai", 1, "round_robin")
	e2.do("POST", "/p/v1/chat/completions", bearer(key2), `{"model":"my-private-finetune","messages":[]}`)
	tr = e2.rec.wait(t, 1)[0]
	u := proxytest.DefaultUsage
	want := (float64(u.Prompt-u.CacheRead)*1 + float64(u.CacheRead)*1 + float64(u.Completion)*2) / 1e6
	if !tr.CostKnown || math.Abs(tr.CostUSD-want) > 1e-12 {
		t.Fatalf("override price: cost %v known %v, want %v", tr.CostUSD, tr.CostKnown, want)
	}
}

func TestCountTokensIsNotBilled(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("anthropic", 1, "round_robin")
	e.do("POST", "/p/v1/messages/count_tokens", xAPIKey(key), `{"model":"claude-sonnet-4-5","messages":[]}`)
	tr := e.rec.wait(t, 1)[0]
	if tr.CostUSD != 0 || !tr.CostKnown || tr.PromptTokens != 0 || tr.Model != "claude-sonnet-4-5" {
		t.Fatalf("count_tokens trace: %+v", tr)
	}
}

// Token and cost quotas: a key over its tokens per minute, tokens per day
// or cost per day is refused with 429 until the window passes.
func TestTokenAndCostQuotas(t *testing.T) {
	perRequest := int64(proxytest.DefaultUsage.Prompt + proxytest.DefaultUsage.Completion)
	for _, c := range []struct {
		name   string
		limits store.Limits
		ok     int
		what   string
	}{
		{"tokens per minute", store.Limits{TPM: 2 * perRequest}, 2, "tokens per minute"},
		{"tokens per day", store.Limits{DailyTokens: 3 * perRequest}, 3, "tokens per day"},
		{"cost per day", store.Limits{DailyCost: 0.00001}, 1, "cost per day"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			key, _ := e.setup("openai", 1, "round_robin", func(in *store.KeyInput) { in.Limits = c.limits })
			for i := range c.ok {
				if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 200 {
					t.Fatalf("request %d: %d", i+1, r.status)
				}
			}
			r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
			if r.status != 429 || !strings.Contains(r.body, c.what) || r.header.Get("Retry-After") == "" {
				t.Fatalf("over the quota: %d %s", r.status, r.body)
			}
		})
	}
}

// Plain and streamed requests alternating on one keep-alive connection:
// buffers reused from one request to the next never leak into the other.
func TestAlternatingRequestsOnOneConnection(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin")
	for i := range 6 {
		body := chatBody
		if i%2 == 1 {
			body = chatStreamBody
		}
		if r := e.do("POST", "/p/v1/chat/completions", bearer(key), body); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
		seen, _ := e.fake.Last()
		if !json.Valid(seen.Body) {
			t.Fatalf("request %d reached the upstream corrupted: %s", i, seen.Body)
		}
	}
}

// A stream that breaks midway leaves a trace with the error and the usage
// read before the break (Anthropic reports the prompt in message_start).
func TestBrokenStreamKeepsPartialUsage(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("anthropic", 1, "round_robin")
	e.fake.Program(proxytest.Rule{ResetAfterChunks: 3})
	body := `{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	resp := e.stream(t, "/p/v1/messages", xAPIKey(key), body)
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	tr := e.rec.wait(t, 1)[0]
	u := proxytest.DefaultUsage
	if tr.Error == "" || tr.PromptTokens != int64(u.Prompt+u.CacheCreation+u.CacheRead) || tr.UsageSource != "response" {
		t.Fatalf("broken stream trace: error %q prompt %d source %q", tr.Error, tr.PromptTokens, tr.UsageSource)
	}
	if tr.CompletionTokens >= int64(u.Completion) {
		t.Errorf("completion tokens %d: the final count never arrived", tr.CompletionTokens)
	}
}

// Garbage instead of JSON: passed on as it is, usage unknown, never $0.
func TestGarbageBodyMarksUsageUnknown(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin")
	e.fake.Program(proxytest.Rule{Garbage: true})
	e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	tr := e.rec.wait(t, 1)[0]
	if tr.UsageSource != "none" || tr.CostKnown || tr.CostUSD != 0 {
		t.Fatalf("garbage body trace: %+v", tr)
	}
}
