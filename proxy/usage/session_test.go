package usage

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestReadSessionFindsTheBodysOwnSessionFields(t *testing.T) {
	for _, tc := range []struct {
		name, body               string
		user, cacheKey, previous string
	}{
		{"anthropic metadata.user_id", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":"user_abc_session_42"},"stream":true}`, "user_abc_session_42", "", ""},
		{"openai prompt_cache_key", `{"model":"gpt-5","prompt_cache_key":"conv-7","messages":[]}`, "", "conv-7", ""},
		{"responses previous_response_id", `{"model":"gpt-5","previous_response_id":"resp_123","input":"and then?"}`, "", "", "resp_123"},
		{"escaped and spaced", "{ \"metadata\" : { \"user_id\" : \"a\\\"b\" } }", `a\"b`, "", ""},
		{"not strings", `{"metadata":{"user_id":7},"prompt_cache_key":null,"previous_response_id":["x"]}`, "", "", ""},
		{"empty strings", `{"metadata":{"user_id":""},"prompt_cache_key":""}`, "", "", ""},
		{"nested deeper is not the field", `{"messages":[{"metadata":{"user_id":"nested"}}],"x":{"prompt_cache_key":"no"}}`, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ReadSession([]byte(tc.body))
			if string(s.UserID) != tc.user || string(s.PromptCacheKey) != tc.cacheKey || string(s.PreviousResponseID) != tc.previous {
				t.Fatalf("user_id %q prompt_cache_key %q previous_response_id %q; want %q %q %q",
					s.UserID, s.PromptCacheKey, s.PreviousResponseID, tc.user, tc.cacheKey, tc.previous)
			}
		})
	}
}

// turns builds the bodies of a conversation's turns the way an agent sends
// them: the whole history every time, with the cache marker on the newest
// user turn only (as Claude Code places it).
func anthropicTurns(system, first string, n int) []string {
	var out []string
	var history []string
	for i := range n {
		user := first
		if i > 0 {
			user = "follow-up " + strings.Repeat("x", i)
		}
		marked := `{"role":"user","content":[{"type":"text","text":"` + user + `","cache_control":{"type":"ephemeral"}}]}`
		plain := `{"role":"user","content":[{"type":"text","text":"` + user + `"}]}`
		msgs := append(append([]string{}, history...), marked)
		out = append(out, `{"model":"claude-sonnet-4-5","max_tokens":`+strings.Repeat("9", i+1)+`,"system":[{"type":"text","text":"`+system+`","cache_control":{"type":"ephemeral"}}],"messages":[`+strings.Join(msgs, ",")+`],"stream":true}`)
		history = append(history, plain, `{"role":"assistant","content":[{"type":"text","text":"answer `+user+`"}]}`)
	}
	return out
}

func TestReadSessionTrustsOnlyATopLevelFieldAtTheEnd(t *testing.T) {
	pad := strings.Repeat(`{"role":"user","content":"`+strings.Repeat("x", 100)+`"},`, 100) // past the tail window
	for _, tc := range []struct{ name, body, user, cacheKey string }{
		{"claude code order", `{"model":"m","messages":[` + pad + `{"role":"user","content":"q"}],"system":"s","metadata":{"user_id":"u1"},"max_tokens":9,"stream":true}`, "u1", ""},
		{"nested at the end is not the field", `{"model":"m","messages":[` + pad + `{"role":"user","content":"q","metadata":{"user_id":"nested"}}]}`, "", ""},
		{"inside a string is not the field", `{"messages":[` + pad + `{"role":"user","content":"say \"metadata\":{\"user_id\":\"s\"}"}]}`, "", ""},
		{"codex order", `{"model":"gpt-5","input":[` + pad + `{"role":"user","content":"q"}],"stream":true,"prompt_cache_key":"c1"}`, "", "c1"},
		// Past the tail window the fast path does not look: a late prompt_cache_key is taken.
		{"a late prompt_cache_key is taken", `{"metadata":{"user_id":"u2"},"input":[` + pad + `{"role":"user","content":"q"}],"prompt_cache_key":"c2"}`, "", "c2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ReadSession([]byte(tc.body))
			if string(s.UserID) != tc.user || (tc.user == "" && string(s.PromptCacheKey) != tc.cacheKey) {
				t.Fatalf("user_id %q prompt_cache_key %q; want %q %q", s.UserID, s.PromptCacheKey, tc.user, tc.cacheKey)
			}
		})
	}
}

func TestReadSessionPrefixIsStableAcrossTurnsAndDiffersBetweenConversations(t *testing.T) {
	a := anthropicTurns("You are a coding agent.", "fix the bug in main.go", 6)
	b := anthropicTurns("You are a coding agent.", "write the README", 6)
	ha := ReadSession([]byte(a[0])).Prefix
	if ha == 0 {
		t.Fatal("no prefix hash for an Anthropic conversation")
	}
	for i, body := range a {
		if h := ReadSession([]byte(body)).Prefix; h != ha {
			t.Fatalf("turn %d of one conversation hashes %x, turn 0 %x (the moved cache_control or the growing history changed it)", i, h, ha)
		}
	}
	if hb := ReadSession([]byte(b[3])).Prefix; hb == ha {
		t.Fatal("two conversations with different first messages share a prefix hash")
	}

	// OpenAI chat: the system message and the first user turn, whatever follows.
	chat := func(tail string) string {
		return `{"model":"gpt-5","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"q1"}` + tail + `]}`
	}
	h1 := ReadSession([]byte(chat(""))).Prefix
	if h2 := ReadSession([]byte(chat(`,{"role":"assistant","content":"a1"},{"role":"user","content":"q2"}`))).Prefix; h1 == 0 || h1 != h2 {
		t.Fatalf("chat turns hash %x and %x", h1, h2)
	}
	if h3 := ReadSession([]byte(`{"model":"gpt-5","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"other"}]}`)).Prefix; h3 == h1 {
		t.Fatal("different first user turns share a hash")
	}
	// Responses: instructions and a string input.
	if h := ReadSession([]byte(`{"model":"gpt-5","instructions":"x","input":"hello"}`)).Prefix; h == 0 {
		t.Fatal("no prefix hash for a Responses request with a string input")
	}
	// Gemini: systemInstruction and contents.
	g1 := ReadSession([]byte(`{"systemInstruction":{"parts":[{"text":"s"}]},"contents":[{"role":"user","parts":[{"text":"q"}]}]}`)).Prefix
	g2 := ReadSession([]byte(`{"systemInstruction":{"parts":[{"text":"s"}]},"contents":[{"role":"user","parts":[{"text":"q"}]},{"role":"model","parts":[{"text":"a"}]},{"role":"user","parts":[{"text":"q2"}]}]}`)).Prefix
	if g1 == 0 || g1 != g2 {
		t.Fatalf("gemini turns hash %x and %x", g1, g2)
	}
}

func TestReadSessionPrefixReadsABoundedPrefix(t *testing.T) {
	long := strings.Repeat("a", 3*PrefixBytes)
	h1 := ReadSession([]byte(`{"system":"` + long + `x","messages":[{"role":"user","content":"q"}]}`)).Prefix
	h2 := ReadSession([]byte(`{"system":"` + long + `y","messages":[{"role":"user","content":"q"}]}`)).Prefix
	if h1 == 0 || h1 != h2 {
		t.Fatalf("system prompts that differ only past PrefixBytes hash differently: %x %x", h1, h2)
	}
}

func TestReadSessionOnBodiesWithoutAPrompt(t *testing.T) {
	for _, tc := range []struct{ body, why string }{
		{"", NoPrefixNotJSON},
		{"not json", NoPrefixNotJSON},
		{`[1,2]`, NoPrefixNotJSON},
		{`{`, NoPrefixNotJSON},
		{`{"model":"gpt-5"}`, NoPrefixPrompt},
		{`{"messages":[]}`, NoPrefixPrompt},
	} {
		s := ReadSession([]byte(tc.body))
		if s.Prefix != 0 || s.PrefixMissing != tc.why {
			t.Errorf("%q: prefix %x, missing %q; want 0, %q", tc.body, s.Prefix, s.PrefixMissing, tc.why)
		}
	}
	// A body cut short still yields what was read before the cut: its
	// session field, or else the prefix of its prompt.
	s := ReadSession([]byte(`{"metadata":{"user_id":"u1"},"messages":[{"role":"user","content":"q"}],"max_tok`))
	if string(s.UserID) != "u1" {
		t.Fatalf("cut body: user_id %q", s.UserID)
	}
	s = ReadSession([]byte(`{"messages":[{"role":"user","content":"q"}],"max_tok`))
	if s.Prefix == 0 {
		t.Fatalf("cut body without a session field: no prefix (%q)", s.PrefixMissing)
	}
}

// A body that names its session is not hashed: the name decides.
func TestReadSessionHashesNoPrefixWhenTheBodyNamesItsSession(t *testing.T) {
	for _, body := range []string{
		`{"messages":[{"role":"user","content":"q"}],"metadata":{"user_id":"u"}}`,
		`{"prompt_cache_key":"k","messages":[{"role":"user","content":"q"}]}`,
		`{"previous_response_id":"r","input":"q"}`,
	} {
		if s := ReadSession([]byte(body)); s.Prefix != 0 || s.PrefixMissing != "" {
			t.Errorf("%s: prefix %x, missing %q; want neither", body, s.Prefix, s.PrefixMissing)
		}
	}
}

func FuzzReadSession(f *testing.F) {
	for _, b := range anthropicTurns("sys", "q", 3) {
		f.Add([]byte(b))
	}
	f.Add([]byte(`{"model":"gpt-5","previous_response_id":"resp_1","input":[{"role":"user","content":"x","cache_control":{}}]}`))
	f.Add([]byte(`{"system":[{"cache_control":{"type":"ephemeral"},"text":"a"}],"messages":"x"}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":"x","metadata":{"user_id":"nested"}}],"metadata":{"user_id":"top"}}`))
	f.Add([]byte(`{"metadata":{"user_id":"early"},"input":[],"prompt_cache_key":"late"}`))
	f.Add([]byte(`0,"metadata":{"user_id":"0"}}`)) // not an object: the tail must not be trusted
	f.Fuzz(func(t *testing.T, body []byte) {
		// The tail's fast path agrees with the whole walk on what it finds
		// in valid JSON (anything else the upstream refuses anyway).
		if tail, ok := readSessionTail(body); ok && json.Valid(body) {
			whole := readSessionWhole(body)
			if tail.UserID != nil && string(tail.UserID) != string(whole.UserID) {
				t.Fatalf("tail user_id %q, whole walk %q", tail.UserID, whole.UserID)
			}
			if tail.UserID == nil && string(tail.PromptCacheKey) != string(whole.PromptCacheKey) {
				t.Fatalf("tail prompt_cache_key %q, whole walk %q", tail.PromptCacheKey, whole.PromptCacheKey)
			}
		}
		s := ReadSession(body)
		// Every field found is a part of the body, and reading is deterministic.
		for _, v := range [][]byte{s.UserID, s.PromptCacheKey, s.PreviousResponseID} {
			if len(v) > len(body) {
				t.Fatalf("field longer than the body")
			}
		}
		if again := ReadSession(body); again.Prefix != s.Prefix {
			t.Fatalf("prefix hash not deterministic: %x then %x", s.Prefix, again.Prefix)
		}
		named := s.UserID != nil || s.PromptCacheKey != nil || s.PreviousResponseID != nil
		if !named && (s.Prefix == 0) != (s.PrefixMissing != "") {
			t.Fatalf("prefix %x with missing %q", s.Prefix, s.PrefixMissing)
		}
	})
}

// BenchmarkReadSessionChatBody reads the harness's plain chat body
// (../shared/bench/bodies/chat.json, 454 bytes): OpenAI metadata without a
// user_id at the end, so the prompt prefix is hashed.
func BenchmarkReadSessionChatBody(b *testing.B) {
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant that answers concisely and accurately."},{"role":"user","content":"We are evaluating API gateways for LLM traffic. In one short paragraph, explain what such a gateway does on each request and which costs it adds on top of the model provider."}],"temperature":0.2,"max_tokens":256,"user":"bench-user-0001","metadata":{"team":"bench","purpose":"gateway-overhead"}}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if ReadSession(body).Prefix == 0 {
			b.Fatal("no prefix")
		}
	}
}

func BenchmarkReadSession(b *testing.B) {
	turns := anthropicTurns(strings.Repeat("You are a coding agent. ", 200), "fix the bug", 40)
	body := []byte(turns[len(turns)-1])
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ReadSession(body)
	}
}

// BenchmarkReadSessionAgentBody reads a body shaped like a coding agent's
// late turn: 60 messages of code-like text (newlines and quotes escaped),
// about 200 KB, with metadata.user_id at the end as Claude Code sends it.
func BenchmarkReadSessionAgentBody(b *testing.B) {
	line := `    if err := run(ctx, \"name\"); err != nil {\n        return fmt.Errorf(\"run: %w\", err)\n    }\n`
	text := strings.Repeat(line, 32)
	var msgs []string
	for i := range 60 {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		msgs = append(msgs, `{"role":"`+role+`","content":[{"type":"text","text":"`+text+`"}]}`)
	}
	body := []byte(`{"model":"claude-sonnet-4-5","messages":[` + strings.Join(msgs, ",") +
		`],"system":[{"type":"text","text":"You are a coding agent."}],"tools":[],"metadata":{"user_id":"user_x_session_1"},"max_tokens":32000,"stream":true}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if len(ReadSession(body).UserID) == 0 {
			b.Fatal("no user_id")
		}
	}
}
