package proxytest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxytest"
)

// cacheUsage is what a client reads of an answer's prompt-side usage: every
// prompt token, those read from the cache, and (Anthropic) those written.
type cacheUsage struct{ total, read, created int }

// promptTokens is the documented token rule: ceil(bytes/4), at least 1, of
// each block's canonical JSON.
func promptTokens(blocks []string) int {
	n := 0
	for _, b := range blocks {
		n += max(1, (len(b)+3)/4)
	}
	return n
}

// A conversation, turn by turn. Each API's builder returns the body of turn
// n (n user messages, n-1 replies) and the blocks the fake should see, in
// canonical form (keys sorted, no cache_control).
const systemText = "You are a careful coding agent. Keep answers short."

func userText(i int) string {
	return fmt.Sprintf("turn %d: look at file_%d.go and fix the failing test %s", i, i, strings.Repeat("x", 40*i))
}

func replyText(i int) string { return fmt.Sprintf("fixed file_%d.go", i) }

type cacheAPI struct {
	name    string
	path    func(model string, stream bool) string
	headers func(cred string) []string
	body    func(model string, stream bool, turns int) (string, []string)
	usage   func(t *testing.T, raw []byte, stream bool) cacheUsage
}

var cacheAPIs = []cacheAPI{
	{
		name: "anthropic messages",
		path: func(string, bool) string { return "/v1/messages" },
		headers: func(cred string) []string {
			return []string{"x-api-key", cred, "anthropic-version", "2023-06-01"}
		},
		body: func(model string, stream bool, turns int) (string, []string) {
			// As Claude Code sends it: breakpoints on the system prompt and
			// on the last message, moving every turn.
			sys := fmt.Sprintf(`{"text":%q,"type":"text"}`, systemText)
			blocks := []string{sys}
			var msgs []string
			for i := 1; i <= turns; i++ {
				u := fmt.Sprintf(`{"content":[{"text":%q,"type":"text"}],"role":"user"}`, userText(i))
				blocks = append(blocks, u)
				if i == turns {
					u = fmt.Sprintf(`{"content":[{"cache_control":{"type":"ephemeral"},"text":%q,"type":"text"}],"role":"user"}`, userText(i))
				}
				msgs = append(msgs, u)
				if i < turns {
					a := fmt.Sprintf(`{"content":%q,"role":"assistant"}`, replyText(i))
					blocks = append(blocks, a)
					msgs = append(msgs, a)
				}
			}
			marked := fmt.Sprintf(`{"cache_control":{"type":"ephemeral"},"text":%q,"type":"text"}`, systemText)
			return fmt.Sprintf(`{"model":%q,"max_tokens":64,"stream":%t,"system":[%s],"messages":[%s]}`,
				model, stream, marked, strings.Join(msgs, ",")), blocks
		},
		usage: func(t *testing.T, raw []byte, stream bool) cacheUsage {
			var u anthropicUsage
			if stream {
				for _, ev := range sseEvents(t, raw) {
					if ev.Event == "message_start" {
						var m struct{ Message anthropicMessage }
						unmarshal(t, ev.Data, &m)
						u = m.Message.Usage
					}
				}
			} else {
				var m anthropicMessage
				unmarshal(t, string(raw), &m)
				u = m.Usage
			}
			if u.CacheCreationInputTokens+u.CacheReadInputTokens > 0 && u.InputTokens != 0 {
				t.Errorf("input_tokens = %d, want 0: every block up to the last breakpoint is read or written", u.InputTokens)
			}
			return cacheUsage{u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens, u.CacheReadInputTokens, u.CacheCreationInputTokens}
		},
	},
	{
		name:    "openai chat",
		path:    func(string, bool) string { return "/v1/chat/completions" },
		headers: func(cred string) []string { return []string{"Authorization", "Bearer " + cred} },
		body: func(model string, stream bool, turns int) (string, []string) {
			blocks := []string{fmt.Sprintf(`{"content":%q,"role":"system"}`, systemText)}
			for i := 1; i <= turns; i++ {
				blocks = append(blocks, fmt.Sprintf(`{"content":%q,"role":"user"}`, userText(i)))
				if i < turns {
					blocks = append(blocks, fmt.Sprintf(`{"content":%q,"role":"assistant"}`, replyText(i)))
				}
			}
			return fmt.Sprintf(`{"model":%q,"stream":%t,"stream_options":{"include_usage":true},"messages":[%s]}`,
				model, stream, strings.Join(blocks, ",")), blocks
		},
		usage: func(t *testing.T, raw []byte, stream bool) cacheUsage {
			var c struct{ Usage *openAIUsage }
			if stream {
				for _, ev := range sseEvents(t, raw) {
					if ev.Data != "[DONE]" && strings.Contains(ev.Data, `"prompt_tokens"`) {
						unmarshal(t, ev.Data, &c)
					}
				}
			} else {
				unmarshal(t, string(raw), &c)
			}
			if c.Usage == nil {
				t.Fatalf("no usage in %s", raw)
			}
			if c.Usage.TotalTokens != c.Usage.PromptTokens+c.Usage.CompletionTokens {
				t.Errorf("total_tokens %d is not prompt + completion: %+v", c.Usage.TotalTokens, *c.Usage)
			}
			return cacheUsage{c.Usage.PromptTokens, c.Usage.PromptTokensDetails.CachedTokens, 0}
		},
	},
	{
		name:    "openai responses",
		path:    func(string, bool) string { return "/v1/responses" },
		headers: func(cred string) []string { return []string{"Authorization", "Bearer " + cred} },
		body: func(model string, stream bool, turns int) (string, []string) {
			blocks := []string{fmt.Sprintf("%q", systemText)}
			var items []string
			for i := 1; i <= turns; i++ {
				items = append(items, fmt.Sprintf(`{"content":%q,"role":"user"}`, userText(i)))
				if i < turns {
					items = append(items, fmt.Sprintf(`{"content":%q,"role":"assistant"}`, replyText(i)))
				}
			}
			blocks = append(blocks, items...)
			return fmt.Sprintf(`{"model":%q,"stream":%t,"instructions":%q,"input":[%s]}`,
				model, stream, systemText, strings.Join(items, ",")), blocks
		},
		usage: func(t *testing.T, raw []byte, stream bool) cacheUsage {
			var r struct {
				Usage *struct {
					InputTokens        int `json:"input_tokens"`
					InputTokensDetails struct {
						CachedTokens int `json:"cached_tokens"`
					} `json:"input_tokens_details"`
				}
			}
			if stream {
				for _, ev := range sseEvents(t, raw) {
					if ev.Event == "response.completed" {
						var e struct{ Response json.RawMessage }
						unmarshal(t, ev.Data, &e)
						unmarshal(t, string(e.Response), &r)
					}
				}
			} else {
				unmarshal(t, string(raw), &r)
			}
			if r.Usage == nil {
				t.Fatalf("no usage in %s", raw)
			}
			return cacheUsage{r.Usage.InputTokens, r.Usage.InputTokensDetails.CachedTokens, 0}
		},
	},
	{
		name: "gemini generateContent",
		path: func(model string, stream bool) string {
			if stream {
				return "/v1beta/models/" + model + ":streamGenerateContent?alt=sse"
			}
			return "/v1beta/models/" + model + ":generateContent"
		},
		headers: func(cred string) []string { return []string{"x-goog-api-key", cred} },
		body: func(_ string, _ bool, turns int) (string, []string) {
			blocks := []string{fmt.Sprintf(`{"parts":[{"text":%q}]}`, systemText)}
			var contents []string
			for i := 1; i <= turns; i++ {
				contents = append(contents, fmt.Sprintf(`{"parts":[{"text":%q}],"role":"user"}`, userText(i)))
				if i < turns {
					contents = append(contents, fmt.Sprintf(`{"parts":[{"text":%q}],"role":"model"}`, replyText(i)))
				}
			}
			blocks = append(blocks, contents...)
			return fmt.Sprintf(`{"systemInstruction":%s,"contents":[%s]}`, blocks[0], strings.Join(contents, ",")), blocks
		},
		usage: func(t *testing.T, raw []byte, stream bool) cacheUsage {
			var r geminiResponse
			if stream {
				evs := sseEvents(t, raw)
				unmarshal(t, evs[len(evs)-1].Data, &r)
			} else {
				unmarshal(t, string(raw), &r)
			}
			if r.UsageMetadata == nil {
				t.Fatalf("no usageMetadata in %s", raw)
			}
			return cacheUsage{r.UsageMetadata.PromptTokenCount, r.UsageMetadata.CachedContentTokenCount, 0}
		},
	},
}

// sseEvents parses a whole event stream.
func sseEvents(t *testing.T, raw []byte) []sseEvent {
	t.Helper()
	evs, err := newSSEReader(bytes.NewReader(raw)).rest()
	if err != nil || len(evs) == 0 {
		t.Fatalf("not an event stream (%v): %s", err, raw)
	}
	return evs
}

// ask sends turn n of the conversation with cred and model, and returns the
// usage the answer reports and the prompt's blocks.
func (a cacheAPI) ask(t *testing.T, s *proxytest.Server, cred, model string, stream bool, turns int) (cacheUsage, []string) {
	t.Helper()
	body, blocks := a.body(model, stream, turns)
	resp := post(t, s.URL+a.path(model, stream), body, a.headers(cred)...)
	raw := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("turn %d: status %d: %s", turns, resp.StatusCode, raw)
	}
	return a.usage(t, raw, stream), blocks
}

// The same conversation grows turn by turn: each turn reads from the cache
// what the same credential sent before, and nothing of what another
// credential or another model sent.
func TestPromptCacheTurnByTurn(t *testing.T) {
	for _, a := range cacheAPIs {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s stream=%t", a.name, stream), func(t *testing.T) {
				s := start(t)
				s.SimulatePromptCache(true)
				const model, other = "model-a", "model-b"
				check := func(step string, got cacheUsage, blocks []string, read int) {
					t.Helper()
					want := cacheUsage{total: promptTokens(blocks), read: read}
					if a.name == "anthropic messages" {
						want.created = want.total - read // breakpoint on the last message
					}
					if got != want {
						t.Errorf("%s: usage %+v, want %+v", step, got, want)
					}
				}
				u1, b1 := a.ask(t, s, "cred-A", model, stream, 1)
				check("turn 1 on A", u1, b1, 0)
				u2, b2 := a.ask(t, s, "cred-A", model, stream, 2)
				check("turn 2 on A", u2, b2, promptTokens(b1))
				u, _ := a.ask(t, s, "cred-B", model, stream, 2)
				check("turn 2 on B", u, b2, 0)
				u3, b3 := a.ask(t, s, "cred-A", model, stream, 3)
				check("turn 3 on A", u3, b3, promptTokens(b2))
				u, _ = a.ask(t, s, "cred-B", model, stream, 3)
				check("turn 3 on B, which saw turn 2", u, b3, promptTokens(b2))
				u, _ = a.ask(t, s, "cred-A", other, stream, 3)
				check("turn 3 on A with another model", u, b3, 0)
				u, _ = a.ask(t, s, "cred-A", model, stream, 3)
				check("turn 3 again on A", u, b3, promptTokens(b3))

				if promptTokens(b2) <= promptTokens(b1) || u2.read == 0 {
					t.Fatalf("the conversation does not grow: %d then %d tokens", promptTokens(b1), promptTokens(b2))
				}
			})
		}
	}
}

// Without the simulation the fake reports the configured usage whatever
// the prompt; turning it off forgets the cache.
func TestPromptCacheOffByDefault(t *testing.T) {
	s := start(t)
	a := cacheAPIs[1] // OpenAI chat
	want := cacheUsage{total: proxytest.DefaultUsage.Prompt, read: proxytest.DefaultUsage.CacheRead}
	for range 2 {
		if got, _ := a.ask(t, s, "cred-A", "m", false, 2); got != want {
			t.Fatalf("simulation off: usage %+v, want the configured %+v", got, want)
		}
	}
	s.SimulatePromptCache(true)
	if got, _ := a.ask(t, s, "cred-A", "m", false, 2); got.read != 0 {
		t.Fatalf("first request with the simulation on read %d tokens", got.read)
	}
	s.SimulatePromptCache(false)
	s.SimulatePromptCache(true)
	if got, _ := a.ask(t, s, "cred-A", "m", false, 2); got.read != 0 {
		t.Fatalf("turning the simulation off did not forget the cache: read %d", got.read)
	}
}

// Anthropic writes to the cache only up to the last cache_control marker;
// what follows is plain input. Moving the marker does not change the prompt.
func TestPromptCacheAnthropicBreakpoints(t *testing.T) {
	s := start(t)
	s.SimulatePromptCache(true)
	sys := fmt.Sprintf(`{"text":%q,"type":"text"}`, systemText)
	u1 := fmt.Sprintf(`{"content":%q,"role":"user"}`, userText(1))
	a1 := fmt.Sprintf(`{"content":%q,"role":"assistant"}`, replyText(1))
	u2 := fmt.Sprintf(`{"content":%q,"role":"user"}`, userText(2))
	ask := func(system, messages string) anthropicUsage {
		t.Helper()
		var m anthropicMessage
		decode(t, post(t, s.URL+"/v1/messages", `{"model":"m","max_tokens":8,"system":`+system+`,"messages":[`+messages+`]}`,
			"x-api-key", "cred-A", "anthropic-version", "2023-06-01"), http.StatusOK, &m)
		return m.Usage
	}
	markedSys := fmt.Sprintf(`[{"cache_control":{"type":"ephemeral"},"text":%q,"type":"text"}]`, systemText)
	// Turn 1: only the system prompt is marked.
	got := ask(markedSys, u1)
	want := anthropicUsage{InputTokens: promptTokens([]string{u1}), CacheCreationInputTokens: promptTokens([]string{sys}), OutputTokens: proxytest.DefaultUsage.Completion}
	if got != want {
		t.Errorf("system marked: usage %+v, want %+v", got, want)
	}
	// Turn 2, with the system prompt as a plain string this time: a
	// different first block, so nothing is read.
	got = ask(fmt.Sprintf("%q", systemText), strings.Join([]string{u1, a1, u2}, ","))
	if got.CacheReadInputTokens != 0 || got.CacheCreationInputTokens != 0 {
		t.Errorf("system as a string, no marker: usage %+v, want no read and no write", got)
	}
	// Turn 2 as the first one sent it, markers elsewhere: reads system and
	// u1, and with no marker after them writes nothing.
	got = ask(`[`+sys+`]`, strings.Join([]string{u1, a1, u2}, ","))
	want = anthropicUsage{InputTokens: promptTokens([]string{a1, u2}), CacheReadInputTokens: promptTokens([]string{sys, u1}), OutputTokens: proxytest.DefaultUsage.Completion}
	if got != want {
		t.Errorf("markers moved: usage %+v, want %+v", got, want)
	}
}

// Failed answers do not fill the cache; a body whose prompt is not in the
// documented shape is one block.
func TestPromptCacheOnlyNormalAnswersStore(t *testing.T) {
	s := start(t)
	s.SimulatePromptCache(true)
	a := cacheAPIs[1]
	s.Program(proxytest.Rule{Credential: "cred-A", Status: 500, Times: 1})
	body, _ := a.body("m", false, 1)
	if resp := post(t, s.URL+"/v1/chat/completions", body, a.headers("cred-A")...); resp.StatusCode != 500 {
		t.Fatalf("programmed 500: got %d", resp.StatusCode)
	}
	if got, _ := a.ask(t, s, "cred-A", "m", false, 1); got.read != 0 {
		t.Errorf("a failed answer filled the cache: read %d", got.read)
	}

	odd := `{"model":"m","messages":"not an array"}`
	for i, wantRead := range []int{0, promptTokens([]string{odd})} {
		var c struct{ Usage openAIUsage }
		decode(t, post(t, s.URL+"/v1/chat/completions", odd, a.headers("cred-A")...), http.StatusOK, &c)
		if c.Usage.PromptTokens != promptTokens([]string{odd}) || c.Usage.PromptTokensDetails.CachedTokens != wantRead {
			t.Errorf("odd body, request %d: usage %+v, want prompt %d (the whole body), cached %d", i+1, c.Usage, promptTokens([]string{odd}), wantRead)
		}
	}
}

// Each credential keeps at most PromptCacheEntries prefixes: a prompt of
// one block more pushes its own first prefix out.
func TestPromptCacheBounded(t *testing.T) {
	s := start(t)
	s.SimulatePromptCache(true)
	msg := func(i int) string { return fmt.Sprintf(`{"content":"m%d","role":"user"}`, i) }
	chat := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"model":"m","messages":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(msg(i))
		}
		b.WriteString(`]}`)
		return b.String()
	}
	cached := func(body string) int {
		t.Helper()
		var c struct{ Usage openAIUsage }
		decode(t, post(t, s.URL+"/v1/chat/completions", body, "Authorization", "Bearer cred-A"), http.StatusOK, &c)
		return c.Usage.PromptTokensDetails.CachedTokens
	}
	big := chat(proxytest.PromptCacheEntries + 1)
	cached(big)
	if got := cached(chat(1)); got != 0 {
		t.Errorf("the oldest prefix of %d was kept: read %d", proxytest.PromptCacheEntries+1, got)
	}
	var blocks []string
	for i := range proxytest.PromptCacheEntries + 1 {
		blocks = append(blocks, msg(i))
	}
	if got, want := cached(big), promptTokens(blocks); got != want {
		t.Errorf("the newest prefixes were dropped: read %d, want %d", got, want)
	}
}

// FuzzPromptCache: whatever the body, the fake answers without panicking,
// and sending the same answered body again on the same credential reads its
// whole prompt from the cache, while another credential reads nothing.
func FuzzPromptCache(f *testing.F) {
	for _, a := range cacheAPIs[:3] {
		body, _ := a.body("m", false, 3)
		f.Add(body)
	}
	f.Add(`{"system":"s","messages":[{"role":"user","content":[{"cache_control":{"type":"ephemeral"},"text":"x","type":"text"}]}]}`)
	f.Add(`{"messages":[1,"a",null,{"cache_control":1}],"tools":[{"cache_control":{}}],"input":"x"}`)
	f.Add(`{"messages":{}}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		u := proxytest.NewUpstream()
		defer u.Close()
		u.SimulatePromptCache(true)
		ask := func(cred string) (cacheUsage, bool) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/v1/messages", strings.NewReader(body))
			req.Header.Set("x-api-key", cred)
			req.Header.Set("anthropic-version", "2023-06-01")
			u.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				return cacheUsage{}, false
			}
			var m anthropicMessage
			raw := rec.Body.Bytes()
			if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
				for _, ev := range sseEvents(t, raw) {
					if ev.Event == "message_start" {
						var s struct{ Message anthropicMessage }
						unmarshal(t, ev.Data, &s)
						m = s.Message
					}
				}
			} else {
				unmarshal(t, string(raw), &m)
			}
			v := m.Usage
			if v.InputTokens < 0 || v.CacheCreationInputTokens < 0 || v.CacheReadInputTokens < 0 {
				t.Fatalf("negative usage %+v", v)
			}
			return cacheUsage{v.InputTokens + v.CacheCreationInputTokens + v.CacheReadInputTokens, v.CacheReadInputTokens, v.CacheCreationInputTokens}, true
		}
		first, ok := ask("cred-A")
		if !ok {
			return
		}
		if first.read != 0 {
			t.Fatalf("first request read %d tokens from an empty cache", first.read)
		}
		if again, _ := ask("cred-A"); again.total != first.total || again.read != first.total || again.created != 0 {
			t.Fatalf("same body again on the same credential: %+v after %+v", again, first)
		}
		if other, _ := ask("cred-B"); other.read != 0 || other.total != first.total {
			t.Fatalf("same body on another credential: %+v after %+v", other, first)
		}
	})
}
