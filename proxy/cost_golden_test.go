package proxy_test

import (
	"math"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxytest"
)

// The same conversation costs exactly the same whether the client asked for
// a plain answer or a stream, for every API, and that cost is the one a user
// works out by hand from the provider's price page and the usage the fake
// upstream reports (proxytest.DefaultUsage: prompt 37 with 13 read from the
// cache, completion 23 with 7 of reasoning, Anthropic cache writes 11 of
// which 5 to the 1-hour cache).
func TestPlainAndStreamedAnswersCostTheSame(t *testing.T) {
	u := proxytest.DefaultUsage
	if u != (proxytest.Usage{Prompt: 37, Completion: 23, CacheCreation: 11, CacheCreation1h: 5, CacheRead: 13, Reasoning: 7}) {
		t.Fatalf("proxytest.DefaultUsage changed (%+v): update the hand-worked costs below", u)
	}
	const chat = `"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]`
	const claude = `"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]`
	const gemini = `{"contents":[{"parts":[{"text":"hi"}]}]}`
	cases := []struct {
		name, typ   string
		hdr         func(string) map[string]string
		plain       [2]string // path, body
		streamed    [][2]string
		golden      float64 // USD
		wantModel   string
		wantPrompts int64
	}{
		// gpt-4o-mini: input 0.15, cached input 0.075, output 0.60 per 1M.
		{"openai chat", "openai", bearer,
			[2]string{"/v1/chat/completions", "{" + chat + "}"},
			[][2]string{{"/v1/chat/completions", `{"stream":true,` + chat + "}"},
				{"/v1/chat/completions", `{"stream":true,"stream_options":{"include_usage":true},` + chat + "}"}},
			(24*0.15 + 13*0.075 + 23*0.6) / 1e6, "gpt-4o-mini", 37},
		{"openai responses", "openai", bearer,
			[2]string{"/v1/responses", `{"model":"gpt-4o-mini","input":"hi"}`},
			[][2]string{{"/v1/responses", `{"model":"gpt-4o-mini","input":"hi","stream":true}`}},
			(24*0.15 + 13*0.075 + 23*0.6) / 1e6, "gpt-4o-mini", 37},
		// claude-sonnet-4-5: input 3, 5-minute write 3.75, 1-hour write 6, read 0.30, output 15.
		{"anthropic messages", "anthropic", xAPIKey,
			[2]string{"/v1/messages", "{" + claude + "}"},
			[][2]string{{"/v1/messages", `{"stream":true,` + claude + "}"}},
			(37*3 + 6*3.75 + 5*6 + 13*0.3 + 23*15) / 1e6, "claude-sonnet-4-5", 37 + 11 + 13},
		// gemini-2.5-flash: input 0.30, cached 0.03, output (thoughts included) 2.50.
		{"gemini generate", "gemini", googKey,
			[2]string{"/v1beta/models/gemini-2.5-flash:generateContent", gemini},
			[][2]string{{"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", gemini},
				{"/v1beta/models/gemini-2.5-flash:streamGenerateContent", gemini}},
			(24*0.3 + 13*0.03 + 30*2.5) / 1e6, "gemini-2.5-flash", 37},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			key, _ := e.setup(tc.typ, 1, "round_robin")
			for i, req := range append([][2]string{tc.plain}, tc.streamed...) {
				if r := e.do("POST", "/p"+req[0], tc.hdr(key), req[1]); r.status != 200 {
					t.Fatalf("%s: status %d %s", req[0], r.status, r.body)
				}
				tr := e.rec.wait(t, i+1)[i]
				if !tr.CostKnown || tr.PromptTokens != tc.wantPrompts || tr.Stream != (i > 0) || !strings.HasPrefix(tr.Model, tc.wantModel) {
					t.Fatalf("%s: model %q cost_known %v prompt %d stream %v", req[1], tr.Model, tr.CostKnown, tr.PromptTokens, tr.Stream)
				}
				if i == 0 && math.Abs(tr.CostUSD-tc.golden) > 1e-15 {
					t.Fatalf("plain answer costs %.12f USD, want %.12f", tr.CostUSD, tc.golden)
				}
				if first := e.rec.wait(t, 1)[0]; tr.CostUSD != first.CostUSD {
					t.Errorf("%s %s: streamed answer costs %.15f USD, the plain one %.15f", req[0], req[1], tr.CostUSD, first.CostUSD)
				}
			}
		})
	}
}
