package usage

import (
	"fmt"
	"strings"
	"testing"
)

// openAIStream builds a chat stream of n content chunks in the shape OpenAI sends with
// include_usage (every chunk carries "usage":null, then the usage chunk and [DONE]).
func openAIStream(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `data: {"id":"chatcmpl-AaBbCcDdEeFfGg","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_f33640a400","choices":[{"index":0,"delta":{"content":" word%d, \"quoted\""},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"q8Xz"}`+"\n\n", i)
	}
	b.WriteString(`data: {"id":"chatcmpl-AaBbCcDdEeFfGg","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":2150,"completion_tokens":2000,"total_tokens":4150,"prompt_tokens_details":{"cached_tokens":2048,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}}` + "\n\ndata: [DONE]\n\n")
	return []byte(b.String())
}

func anthropicStream(n int) []byte {
	var b strings.Builder
	b.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":410,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":5120,\"output_tokens\":3}}}\n\n")
	b.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
	for i := range n {
		fmt.Fprintf(&b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" word%d, more words\"}}\n\n", i)
	}
	b.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n")
	b.WriteString("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":2000}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	return []byte(b.String())
}

func geminiStream(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" word%d, more words\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"candidatesTokenCount\": %d,\"totalTokenCount\": %d,\"promptTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": 9}]},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"o6AgaPCwMpXgz7IPlfrH2Q4\"}\r\n\r\n", i, i, i+9)
	}
	return []byte(b.String())
}

// feedPieces writes body in pieces of the size a network read typically returns.
func feedPieces(s *Scanner, body []byte, size int) {
	for len(body) > 0 {
		n := min(size, len(body))
		s.Write(body[:n])
		body = body[n:]
	}
}

// Throughput over whole streams (about 0.5 MB each), read in 4 KiB pieces.
func BenchmarkScanStream(b *testing.B) {
	for _, c := range []struct {
		name string
		api  API
		body []byte
	}{
		{"openai", OpenAIChat, openAIStream(2000)},
		{"anthropic", AnthropicMessages, anthropicStream(4000)},
		{"gemini", GeminiGenerate, geminiStream(2000)},
	} {
		b.Run(c.name, func(b *testing.B) {
			var s Scanner
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				s.Reset(c.api, FormatSSE)
				feedPieces(&s, c.body, 4096)
				if s.Usage().Source != SourceResponse {
					b.Fatal("no usage")
				}
			}
		})
	}
}

// One SSE event at a time, in the steady state of a long stream: no allocation. A content
// chunk is stepped over once the model is known; a chunk with usage is parsed.
func BenchmarkScanEvent(b *testing.B) {
	oa := string(openAIStream(1))
	content, usageChunk, _ := strings.Cut(oa, "\n\n")
	usageChunk, _, _ = strings.Cut(usageChunk, "\n\n")
	gem := string(geminiStream(1))
	for _, c := range []struct {
		name string
		api  API
		ev   string
	}{
		{"openai_content", OpenAIChat, content + "\n\n"},
		{"openai_usage", OpenAIChat, usageChunk + "\n\n"},
		{"gemini", GeminiGenerate, gem},
	} {
		b.Run(c.name, func(b *testing.B) {
			ev := []byte(c.ev)
			var s Scanner
			s.Reset(c.api, FormatSSE)
			s.Write(ev)
			if s.Usage().Model == "" {
				b.Fatal("no model")
			}
			b.SetBytes(int64(len(ev)))
			b.ReportAllocs()
			for b.Loop() {
				s.Write(ev)
			}
		})
	}
}

// A non-streaming response: the ~1.2 KB chat completion of the fixtures, and an embedding
// list of 1536 floats returned as JSON numbers.
func BenchmarkScanJSON(b *testing.B) {
	var emb strings.Builder
	emb.WriteString(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[`)
	for i := range 1536 {
		if i > 0 {
			emb.WriteByte(',')
		}
		fmt.Fprintf(&emb, "-0.0%08d", i*7919%100000000)
	}
	emb.WriteString(`]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}`)
	for _, c := range []struct {
		name string
		api  API
		body []byte
	}{
		{"chat_1.2KB", OpenAIChat, readFixture(b, "openai_chat.json")},
		{"embedding_1536", OpenAIEmbeddings, []byte(emb.String())},
	} {
		b.Run(c.name, func(b *testing.B) {
			var s Scanner
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				s.Reset(c.api, FormatJSON)
				s.Write(c.body)
				if s.Usage().Source != SourceResponse {
					b.Fatal("no usage")
				}
			}
		})
	}
}

// The client-facing stream when the gateway injected include_usage.
func BenchmarkFilter(b *testing.B) {
	body := openAIStream(2000)
	var s Scanner
	dst := make([]byte, 0, 8192)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		s.Reset(OpenAIChat, FormatSSE)
		s.StripInjectedUsage(true)
		for p := body; len(p) > 0; {
			n := min(4096, len(p))
			dst = s.Filter(dst[:0], p[:n])
			p = p[n:]
		}
	}
}

func chatRequest() []byte {
	var b strings.Builder
	b.WriteString(`{"messages":[{"role":"system","content":"You are a helpful assistant. Answer briefly and cite sources where you can."}`)
	for i := range 8 {
		fmt.Fprintf(&b, `,{"role":"user","content":"Question %d: what does \"include_usage\" do in a streamed chat completion, and is {\"stream\":true} needed?"},{"role":"assistant","content":"It adds a final chunk with usage."}`, i)
	}
	b.WriteString(`],"model":"gpt-4o-mini","temperature":0.2,"stream":true}`)
	return []byte(b.String())
}

func BenchmarkRequestModel(b *testing.B) {
	body := chatRequest()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if RequestModel(body) != "gpt-4o-mini" {
			b.Fatal("wrong model")
		}
	}
}

func BenchmarkPrepareOpenAIStream(b *testing.B) {
	body := chatRequest()
	dst := make([]byte, 0, 2*len(body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := PrepareOpenAIStream(dst[:0], body); !ok {
			b.Fatal("not injected")
		}
	}
}

func BenchmarkCost(b *testing.B) {
	p := DefaultPrices()
	for _, model := range []string{"gpt-4o-2024-08-06", "claude-sonnet-4-5-20991231", "models/gemini-2.5-pro"} {
		u := Usage{Model: model, PromptTokens: 1200, CompletionTokens: 300, CacheReadTokens: 1024, Source: SourceResponse}
		b.Run(model, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := p.Cost(u); !ok {
					b.Fatal("unknown")
				}
			}
		})
	}
}

// chatCompletion builds a compact (one-line) chat completion of about 1.2 KB, shaped like
// the upstream answers in the gateway's benchmark (proxy/bench_test.go: benchJSON) but with a
// longer answer, as a real reply of a few sentences has.
func chatCompletion() []byte {
	const answer = `Sure! Here is a concise overview. An API gateway sits between clients and model providers: it authenticates callers, picks a provider, forwards the request and streams the answer back. Along the way it enforces per-key limits (requests and tokens per minute, concurrency, daily quotas), retries or fails over to another credential when a provider returns 429 or 5xx, and records a trace of every request with its latency, status, token usage and cost. Because it speaks the providers' own wire formats, existing SDKs work unchanged: point their base URL at the gateway and use a gateway key. Its \"usage\" is read from the response as it passes through.`
	return []byte(`{"id":"chatcmpl-BnQ7x2kZr9YtVhLmEaWcPd4sGf1Ju","object":"chat.completion","created":1741570283,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"` +
		answer + `","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":42,"completion_tokens":168,"total_tokens":210,"prompt_tokens_details":{"cached_tokens":16,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_34a54ae93c"}`)
}

// Exactly the work the proxy does per plain (non-streaming) chat completion: Reset, one Write
// of the whole body, Usage.
func BenchmarkScanResponse(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
		want Usage
	}{
		{"fixture", readFixture(b, "openai_chat.json"), fixtures[0].want},
		{"compact_1.2KB", chatCompletion(), Usage{Model: "gpt-4o-mini-2024-07-18", PromptTokens: 42,
			CompletionTokens: 168, CacheReadTokens: 16, Source: SourceResponse}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var s Scanner
			if s.Reset(OpenAIChat, FormatJSON); true {
				s.Write(c.body)
				if got := s.Usage(); got != c.want {
					b.Fatalf("got %+v, want %+v", got, c.want)
				}
			}
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				s.Reset(OpenAIChat, FormatJSON)
				s.Write(c.body)
				_ = s.Usage()
			}
		})
	}
}
