package usage

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type fixture struct {
	file   string
	api    API
	format Format
	want   Usage
}

// The fixtures are response bodies shaped after the providers' API references; want is what
// a trace must show for each.
var fixtures = []fixture{
	{"openai_chat.json", OpenAIChat, FormatJSON, Usage{Model: "o4-mini-2025-04-16",
		PromptTokens: 1117, CompletionTokens: 446, CacheReadTokens: 1024, ReasoningTokens: 320, Source: SourceResponse}},
	{"openai_chat_tricky.json", OpenAIChat, FormatJSON, Usage{Model: "gpt-4o-mini",
		PromptTokens: 57, CompletionTokens: 12, Source: SourceResponse}},
	{"openai_chat_stream.sse", OpenAIChat, FormatSSE, Usage{Model: "gpt-4o-2024-08-06",
		PromptTokens: 2150, CompletionTokens: 12, CacheReadTokens: 2048, Source: SourceResponse}},
	{"openai_chat_stream_plain.sse", OpenAIChat, FormatSSE, Usage{Model: "gpt-4o-2024-08-06"}}, // no include_usage: nothing to read
	{"openai_completions.json", OpenAICompletions, FormatJSON, Usage{Model: "gpt-3.5-turbo-instruct",
		PromptTokens: 5, CompletionTokens: 7, Source: SourceResponse}},
	{"openai_completions_stream.sse", OpenAICompletions, FormatSSE, Usage{Model: "gpt-3.5-turbo-instruct",
		PromptTokens: 5, CompletionTokens: 4, Source: SourceResponse}},
	{"openai_embeddings.json", OpenAIEmbeddings, FormatJSON, Usage{Model: "text-embedding-3-small",
		PromptTokens: 8, Source: SourceResponse}},
	{"openai_responses.json", OpenAIResponses, FormatJSON, Usage{Model: "gpt-4.1-2025-04-14",
		PromptTokens: 328, CompletionTokens: 52, CacheReadTokens: 128, Source: SourceResponse}},
	{"openai_responses_stream.sse", OpenAIResponses, FormatSSE, Usage{Model: "o4-mini-2025-04-16",
		PromptTokens: 1240, CompletionTokens: 458, CacheReadTokens: 1152, ReasoningTokens: 384, Source: SourceResponse}},
	{"anthropic_messages.json", AnthropicMessages, FormatJSON, Usage{Model: "claude-sonnet-4-5-20250929",
		PromptTokens: 2095 + 2048 + 1800, CompletionTokens: 503, CacheCreationTokens: 2048, CacheWrite5mTokens: 2048, CacheReadTokens: 1800, Source: SourceResponse}},
	// message_start's output_tokens (1) is replaced by message_delta's (15), not added; the
	// cache writes are split by lifetime (cache_creation).
	{"anthropic_messages_stream.sse", AnthropicMessages, FormatSSE, Usage{Model: "claude-opus-4-1-20250805",
		PromptTokens: 25 + 1200 + 3000, CompletionTokens: 15, CacheCreationTokens: 1200,
		CacheWrite5mTokens: 200, CacheWrite1hTokens: 1000, CacheReadTokens: 3000, Source: SourceResponse}},
	// message_delta repeats the input and cache figures (grown by a server tool): the later wins.
	{"anthropic_messages_stream_cumulative.sse", AnthropicMessages, FormatSSE, Usage{Model: "claude-sonnet-4-5-20250929",
		PromptTokens: 2650 + 300 + 5120, CompletionTokens: 89, CacheCreationTokens: 300, CacheReadTokens: 5120, Source: SourceResponse}},
	{"anthropic_count_tokens.json", AnthropicCountTokens, FormatJSON, Usage{}},
	{"gemini_generate.json", GeminiGenerate, FormatJSONArray, Usage{Model: "gemini-2.5-flash",
		PromptTokens: 1210, CompletionTokens: 112 + 518, CacheReadTokens: 1024, ReasoningTokens: 518, Source: SourceResponse}},
	{"gemini_generate.json", GeminiGenerate, FormatJSON, Usage{Model: "gemini-2.5-flash",
		PromptTokens: 1210, CompletionTokens: 112 + 518, CacheReadTokens: 1024, ReasoningTokens: 518, Source: SourceResponse}},
	// Cumulative usageMetadata on every chunk: the last one wins.
	{"gemini_stream.sse", GeminiGenerate, FormatSSE, Usage{Model: "gemini-2.5-pro",
		PromptTokens: 9, CompletionTokens: 29 + 1024, ReasoningTokens: 1024, Source: SourceResponse}},
	{"gemini_stream_array.json", GeminiGenerate, FormatJSONArray, Usage{Model: "gemini-2.0-flash",
		PromptTokens: 30 + 120, CompletionTokens: 11, Source: SourceResponse}},
	{"gemini_stream_edge.sse", GeminiGenerate, FormatSSE, Usage{Model: "gemini-2.5-flash-lite",
		PromptTokens: 4, CompletionTokens: 3, CacheReadTokens: 2, Source: SourceResponse}},
	{"gemini_count_tokens.json", GeminiCountTokens, FormatJSON, Usage{}},
	{"gemini_embed.json", GeminiEmbed, FormatJSON, Usage{}},
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scanAll feeds body to a fresh scanner in the given pieces and returns the usage.
func scanAll(api API, f Format, pieces ...[]byte) Usage {
	var s Scanner
	s.Reset(api, f)
	for _, p := range pieces {
		if n, err := s.Write(p); n != len(p) || err != nil {
			panic("Write must consume everything")
		}
	}
	return s.Usage()
}

func TestScannerFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file+"/"+fx.format.String(), func(t *testing.T) {
			body := readFixture(t, fx.file)
			if got := scanAll(fx.api, fx.format, body); got != fx.want {
				t.Fatalf("whole body:\n got %+v\nwant %+v", got, fx.want)
			}
			for i := 0; i <= len(body); i++ {
				if got := scanAll(fx.api, fx.format, body[:i], body[i:]); got != fx.want {
					t.Fatalf("split at %d (%q|%q):\n got %+v\nwant %+v", i, context(body, i, -1), context(body, i, 1), got, fx.want)
				}
			}
			var s Scanner
			s.Reset(fx.api, fx.format)
			for i := range body {
				s.Write(body[i : i+1])
			}
			if got := s.Usage(); got != fx.want {
				t.Fatalf("byte by byte:\n got %+v\nwant %+v", got, fx.want)
			}
			rng := rand.New(rand.NewPCG(1, uint64(len(body))))
			for range 200 {
				if got := scanAll(fx.api, fx.format, randomPieces(rng, body)...); got != fx.want {
					t.Fatalf("random pieces:\n got %+v\nwant %+v", got, fx.want)
				}
			}
		})
	}
}

// The CRLF and CR-only spellings of every SSE fixture read the same.
func TestScannerLineEndings(t *testing.T) {
	for _, fx := range fixtures {
		if fx.format != FormatSSE {
			continue
		}
		body := bytes.ReplaceAll(readFixture(t, fx.file), []byte("\r\n"), []byte("\n"))
		for _, eol := range []string{"\n", "\r\n", "\r"} {
			b := bytes.ReplaceAll(body, []byte("\n"), []byte(eol))
			for i := 0; i <= len(b); i++ {
				if got := scanAll(fx.api, fx.format, b[:i], b[i:]); got != fx.want {
					t.Fatalf("%s with %q line ends, split at %d:\n got %+v\nwant %+v", fx.file, eol, i, got, fx.want)
				}
			}
		}
	}
}

// A body cut anywhere (client gone, upstream reset) yields no figure above the final one, no
// panic, and Source none while no usage object was complete.
func TestScannerTruncated(t *testing.T) {
	for _, fx := range fixtures {
		body := readFixture(t, fx.file)
		for i := 0; i <= len(body); i++ {
			got := scanAll(fx.api, fx.format, body[:i])
			if got.Source == SourceNone && (got.PromptTokens|got.CompletionTokens|got.CacheReadTokens|got.CacheCreationTokens) != 0 {
				t.Fatalf("%s cut at %d: figures without a source: %+v", fx.file, i, got)
			}
			if got.PromptTokens > fx.want.PromptTokens || got.CompletionTokens > fx.want.CompletionTokens ||
				got.CacheReadTokens > fx.want.CacheReadTokens || got.CacheCreationTokens > fx.want.CacheCreationTokens {
				t.Fatalf("%s cut at %d: %+v exceeds the complete body's %+v", fx.file, i, got, fx.want)
			}
		}
	}
}

func TestScannerPartialResults(t *testing.T) {
	t.Run("anthropic stream cut after message_start keeps the input", func(t *testing.T) {
		body := readFixture(t, "anthropic_messages_stream.sse")
		cut := bytes.Index(body, []byte("event: content_block_start"))
		got := scanAll(AnthropicMessages, FormatSSE, body[:cut])
		want := Usage{Model: "claude-opus-4-1-20250805", PromptTokens: 4225, CompletionTokens: 1,
			CacheCreationTokens: 1200, CacheWrite5mTokens: 200, CacheWrite1hTokens: 1000, CacheReadTokens: 3000, Source: SourceResponse}
		if got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
	t.Run("openai body cut inside usage reads nothing but the model", func(t *testing.T) {
		body := readFixture(t, "openai_chat.json")
		cut := bytes.Index(body, []byte(`"total_tokens"`))
		got := scanAll(OpenAIChat, FormatJSON, body[:cut])
		if want := (Usage{Model: "o4-mini-2025-04-16"}); got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
	t.Run("gemini stream cut inside the last usageMetadata keeps the previous one", func(t *testing.T) {
		body := readFixture(t, "gemini_stream.sse")
		cut := bytes.LastIndex(body, []byte(`"candidatesTokenCount": 29`)) + len(`"candidatesTokenCount": 2`)
		got := scanAll(GeminiGenerate, FormatSSE, body[:cut])
		want := Usage{Model: "gemini-2.5-pro", PromptTokens: 9, CompletionTokens: 17 + 1024, ReasoningTokens: 1024, Source: SourceResponse}
		if got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
}

func TestScannerGarbage(t *testing.T) {
	inputs := []string{
		"",
		"<html><body>502 Bad Gateway</body></html>",
		`{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`,
		`{"usage":`,
		`{"usage":{"prompt_tokens":12`,
		`{"usage":{"prompt_tokens":"12","completion_tokens":true}}`,
		`{"usage":[{"prompt_tokens":1}]}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{"usage":{"prompt_tokens":1}}`,
		strings.Repeat(`{"a":`, 10000) + `{"usage":{"prompt_tokens":1}}`,
		"data: {\"usage\":{\"prompt_tokens\":1}\n\ndata: }}}}}\n\n",
		"\x00\xff\xfe\"\\\"\\",
		`{"usage":{"prompt_tokens":-5,"completion_tokens":1e999999,"prompt_tokens_details":{"cached_tokens":99999999999999999999999}}}`,
	}
	for _, api := range []API{OpenAIChat, OpenAIResponses, AnthropicMessages, GeminiGenerate} {
		for _, f := range []Format{FormatJSON, FormatSSE, FormatJSONArray} {
			for _, in := range inputs {
				got := scanAll(api, f, []byte(in))
				if got.Source == SourceResponse && got.PromptTokens == 0 && got.CompletionTokens == 0 && got.CacheReadTokens == 0 {
					t.Errorf("%v/%v %q: a source without figures: %+v", api, f, in, got)
				}
				if got.PromptTokens < 0 || got.CompletionTokens < 0 || got.CacheReadTokens < 0 {
					t.Errorf("%v/%v %q: negative figures %+v", api, f, in, got)
				}
			}
		}
	}
	// Absurd numbers are capped instead of wrapping; negative ones read as 0.
	got := scanAll(OpenAIChat, FormatJSON, []byte(inputs[len(inputs)-1]))
	if got.PromptTokens != 0 || got.CompletionTokens != maxCount || got.CacheReadTokens != maxCount {
		t.Errorf("out of range numbers: %+v", got)
	}
}

// Keys are matched at their own nesting only: a "usage" anywhere else never counts.
func TestScannerNesting(t *testing.T) {
	cases := []struct {
		name string
		api  API
		body string
		want Usage
	}{
		{"usage nested in a choice", OpenAIChat,
			`{"choices":[{"usage":{"prompt_tokens":5}}],"data":{"usage":{"prompt_tokens":6}}}`, Usage{}},
		{"usage in a string", OpenAIChat, `{"text":"\"usage\":{\"prompt_tokens\":5}}"}`, Usage{}},
		{"escaped quote before the real usage", OpenAIChat,
			`{"a":"\\\"","usage":{"prompt_tokens":5,"completion_tokens":2}}`,
			Usage{PromptTokens: 5, CompletionTokens: 2, Source: SourceResponse}},
		{"model in message content ignored", AnthropicMessages,
			`{"content":[{"type":"tool_use","input":{"model":"x","usage":{"input_tokens":9}}}],"model":"claude-haiku-4-5","usage":{"input_tokens":3,"output_tokens":4}}`,
			Usage{Model: "claude-haiku-4-5", PromptTokens: 3, CompletionTokens: 4, Source: SourceResponse}},
		{"responses usage outside response ignored in streams", OpenAIResponses,
			`{"type":"response.output_item.done","item":{"usage":{"input_tokens":5}}}`, Usage{}},
		{"gemini usage inside candidates ignored", GeminiGenerate,
			`{"candidates":[{"usageMetadata":{"promptTokenCount":5}}]}`, Usage{}},
		{"unicode escapes in the model", GeminiGenerate,
			`{"modelVersion":"gemini\u002d2.5\u002dpro \ud83d\ude00"}`, Usage{Model: "gemini-2.5-pro 😀"}},
		{"model too long is dropped", OpenAIChat, `{"model":"` + strings.Repeat("m", modelMax+1) + `"}`, Usage{}},
	}
	for _, c := range cases {
		if got := scanAll(c.api, FormatJSON, []byte(c.body)); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

// A pooled scanner carries nothing from one response to the next.
func TestScannerReset(t *testing.T) {
	var s Scanner
	s.Reset(AnthropicMessages, FormatSSE)
	s.Write(readFixture(t, "anthropic_messages_stream.sse")[:200]) // stops mid-event
	s.Reset(OpenAIChat, FormatJSON)
	s.Write(readFixture(t, "openai_chat.json"))
	if got := s.Usage(); got != fixtures[0].want {
		t.Fatalf("after reuse: %+v", got)
	}
	s.Reset(GeminiGenerate, FormatJSON)
	if got := s.Usage(); got != (Usage{}) {
		t.Fatalf("after Reset: %+v", got)
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		typ, path string
		want      API
	}{
		{"openai", "/v1/chat/completions", OpenAIChat},
		{"openai", "/v1/chat/completions/", OpenAIChat},
		{"openai-compatible", "/api/paas/v4/chat/completions", OpenAIChat},
		{"openai-compatible", "/openai/deployments/gpt4o/chat/completions", OpenAIChat},
		{"openai", "/v1/completions", OpenAICompletions},
		{"openai", "/v1/embeddings", OpenAIEmbeddings},
		{"openai", "/v1/responses", OpenAIResponses},
		{"openai", "/v1/responses/resp_123", APIUnknown},
		{"openai", "/v1/models", APIUnknown},
		{"openai", "/v1/threads/t/messages", APIUnknown},
		{"openai", "/v1/mychat/completions", OpenAICompletions},
		{"anthropic", "/v1/messages", AnthropicMessages},
		{"anthropic", "/v1/messages/count_tokens", AnthropicCountTokens},
		{"anthropic", "/v1/messages/batches", APIUnknown},
		{"anthropic", "/v1/chat/completions", OpenAIChat},
		{"gemini", "/v1beta/models/gemini-2.5-flash:generateContent", GeminiGenerate},
		{"gemini", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", GeminiGenerate},
		{"gemini", "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro:streamGenerateContent", GeminiGenerate},
		{"gemini", "/v1beta/models/gemini-2.5-flash:countTokens", GeminiCountTokens},
		{"gemini", "/v1beta/models/gemini-embedding-001:embedContent", GeminiEmbed},
		{"gemini", "/v1beta/models/gemini-embedding-001:batchEmbedContents", GeminiEmbed},
		{"gemini", "/v1beta/openai/chat/completions", OpenAIChat},
		{"gemini", "/v1beta/models", APIUnknown},
		{"unknown-type", "/v1/chat/completions", APIUnknown},
	}
	for _, c := range cases {
		if got := Detect(c.typ, []byte(c.path)); got != c.want {
			t.Errorf("Detect(%q, %q) = %v, want %v", c.typ, c.path, got, c.want)
		}
	}
	for a := APIUnknown; a <= GeminiEmbed; a++ {
		want := a != APIUnknown && a != AnthropicCountTokens && a != GeminiCountTokens
		if a.Billed() != want {
			t.Errorf("%v.Billed() = %v", a, a.Billed())
		}
	}
}

func TestFormatOf(t *testing.T) {
	cases := []struct {
		ct   string
		api  API
		want Format
	}{
		{"text/event-stream", OpenAIChat, FormatSSE},
		{"text/event-stream; charset=utf-8", AnthropicMessages, FormatSSE},
		{"Text/Event-Stream", GeminiGenerate, FormatSSE},
		{"application/json", OpenAIChat, FormatJSON},
		{"application/json; charset=UTF-8", GeminiGenerate, FormatJSONArray},
		{"", GeminiEmbed, FormatJSON},
	}
	for _, c := range cases {
		if got := FormatOf([]byte(c.ct), c.api); got != c.want {
			t.Errorf("FormatOf(%q, %v) = %v, want %v", c.ct, c.api, got, c.want)
		}
	}
}

func randomPieces(rng *rand.Rand, b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := 1 + rng.IntN(min(len(b), 64))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func context(b []byte, i, dir int) string {
	if dir < 0 {
		return string(b[max(0, i-20):i])
	}
	return string(b[i:min(len(b), i+20)])
}
