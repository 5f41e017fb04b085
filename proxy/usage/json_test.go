package usage

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// The token-level reader (feedTokens, skipIn) and the SSE shortcuts (runs of events stepped
// over at once, the last event holding usage read first) only act on what one Write holds
// whole; fed one byte at a time, the scanner reads everything with the byte-by-byte states.
// Whatever the input, valid or not, both must read the same.
func TestScannerWholeMatchesBytewise(t *testing.T) {
	var bodies [][]byte
	for _, fx := range fixtures {
		bodies = append(bodies, readFixture(t, fx.file))
	}
	bodies = append(bodies, openAIStream(3), anthropicStream(3), geminiStream(3), chatCompletion())
	bodies = append(bodies, cumulativeStreams()...)
	alphabet := []byte("{}[]\":,\\ \n\r\tnu0123456789.-eEabcusageMtdlVr\x00\xff")
	rng := rand.New(rand.NewPCG(11, 12))
	check := func(body []byte) {
		t.Helper()
		for api := OpenAIChat; api <= GeminiEmbed; api++ {
			for f := FormatJSON; f <= FormatJSONArray; f++ {
				whole := scanAll(api, f, body)
				var s Scanner
				s.Reset(api, f)
				for i := range body {
					s.Write(body[i : i+1])
				}
				if got := s.Usage(); got != whole {
					t.Fatalf("%v/%v %q:\nwhole       %+v\nbyte by byte %+v", api, f, body, whole, got)
				}
				if got := scanAll(api, f, randomPieces(rng, body)...); got != whole {
					t.Fatalf("%v/%v %q:\nwhole  %+v\npieces %+v", api, f, body, whole, got)
				}
			}
		}
	}
	for _, b := range bodies {
		check(b)
		for range 40 {
			m := bytes.Clone(b)
			for range 1 + rng.IntN(4) {
				switch k := rng.IntN(len(m) + 1); rng.IntN(3) {
				case 0: // replace a byte
					if k < len(m) {
						m[k] = alphabet[rng.IntN(len(alphabet))]
					}
				case 1: // insert one
					m = append(m[:k], append([]byte{alphabet[rng.IntN(len(alphabet))]}, m[k:]...)...)
				default: // cut a run
					m = append(m[:k], m[min(len(m), k+rng.IntN(8)):]...)
				}
			}
			check(m)
		}
	}
}

// cumulativeStreams are SSE streams whose chunks repeat usage: the last usage object of an
// input replaces the others only when it is complete.
func cumulativeStreams() [][]byte {
	g := "data: {\"modelVersion\":\"g\",\"usageMetadata\":{\"promptTokenCount\":1,\"candidatesTokenCount\":5}}\r\n\r\n" +
		"data: {\"candidates\":[{\"x\":\"usageMetadata\"}],\"usageMetadata\":{\"promptTokenCount\":2}}\r\n\r\n" +
		"data: {\"usageMetadata\":{\"promptTokenCount\":3,\"thoughtsTokenCount\":7}}\n\n"
	o := "data: {\"model\":\"m\",\"usage\":{\"prompt_tokens\":1}}\n\ndata: {\"usage\":{\"prompt_tokens\":2}}\n\n" +
		"data: {\"usage\":{\"prompt_tokens\":3}\r\rdata: {\"usage\":{\"completion_tokens\":4}}\n\n: c\n\nevent: x\ndata: {\"usage\":{\"prompt_tokens\":5}}\n\n"
	return [][]byte{
		[]byte(g),
		[]byte(g + "data: {\"usageMetadata\":{\"promptTokenCount\":4,\n\n"),               // the last one broken
		[]byte(g + "data: {\"usageMetadata\":{}}\n\ndata: {\"usageMetadata\": null}\n\n"), // empty, then null
		[]byte(strings.ReplaceAll(g, "\"modelVersion\":\"g\",", "") + g),                  // the model late
		[]byte(o),
		[]byte(strings.ReplaceAll(o, "usage", "usageMetadata")),
		[]byte("data: {\"usage\":null}\n\ndata: {\"model\":\"x\",\"usage\":{\"prompt_tokens\":1}}\n\n"),
	}
}

// The last event holding usage is read first only for the APIs whose usage objects replace
// each other; Anthropic merges figures across events, and a broken last object leaves the
// one before it.
func TestScannerCumulativeStreams(t *testing.T) {
	ev := func(n int) string {
		return fmt.Sprintf("data: {\"usageMetadata\":{\"promptTokenCount\":%d,\"candidatesTokenCount\":%d}}\r\n\r\n", n, n*10)
	}
	var b strings.Builder
	b.WriteString("data: {\"modelVersion\":\"gemini-x\"}\r\n\r\n")
	for n := 1; n <= 20; n++ {
		b.WriteString(ev(n))
	}
	full := b.String()
	cases := []struct {
		name string
		body string
		want Usage
	}{
		{"last wins", full, Usage{Model: "gemini-x", PromptTokens: 20, CompletionTokens: 200, Source: SourceResponse}},
		{"broken last", full + "data: {\"usageMetadata\":{\"promptTokenCount\":99,\r\n\r\n",
			Usage{Model: "gemini-x", PromptTokens: 20, CompletionTokens: 200, Source: SourceResponse}},
		{"empty last", full + "data: {\"usageMetadata\":{}}\r\n\r\n",
			Usage{Model: "gemini-x", PromptTokens: 20, CompletionTokens: 200, Source: SourceResponse}},
		{"cut last", full + "data: {\"usageMetadata\":{\"promptTokenCount\":21",
			Usage{Model: "gemini-x", PromptTokens: 20, CompletionTokens: 200, Source: SourceResponse}},
	}
	for _, c := range cases {
		if got := scanAll(GeminiGenerate, FormatSSE, []byte(c.body)); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
	// Anthropic: message_delta's output_tokens replaces message_start's, the rest is kept.
	a := "data: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n" +
		"data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}\n\n" +
		"data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9}}\n\n"
	want := Usage{Model: "claude-x", PromptTokens: 5, CompletionTokens: 9, Source: SourceResponse}
	if got := scanAll(AnthropicMessages, FormatSSE, []byte(a)); got != want {
		t.Errorf("anthropic: got %+v, want %+v", got, want)
	}
}

// hasKey finds exactly what a plain search finds.
func TestHasKey(t *testing.T) {
	ref := func(b []byte, off int, key string) int { // the quote at or after b[off]
		if j := bytes.Index(b[off:], []byte(`"`+key)); j >= 0 {
			return off + j + 1 + len(key)
		}
		return -1
	}
	rng := rand.New(rand.NewPCG(21, 22))
	parts := []string{`"usage"`, `"model"`, `usage"`, `"usageMetadata"`, `"modelVersion"`, `"`, `g`, `u`, `M`, `V`, `x`, ` `, `:`, `"usag"`, `\"usage\"`}
	for range 20000 {
		var b []byte
		for range rng.IntN(12) {
			b = append(b, parts[rng.IntN(len(parts))]...)
		}
		off := 0
		if len(b) > 0 {
			off = rng.IntN(len(b))
		}
		for k := range sseKeys {
			key := &sseKeys[k]
			want := ref(b, off, key.name)
			if got := hasKey(b, off, key); got != want {
				t.Fatalf("hasKey(%q, %d, %q) = %d, want %d", b, off, key.name, got, want)
			}
		}
	}
	for k := range sseKeys {
		if a := sseKeys[k].anchor; a != anchor(sseKeys[k].name) || a >= len(sseKeys[k].name)-1 {
			t.Errorf("%q: anchor %d", sseKeys[k].name, a)
		}
	}
}

// Every member is found in its node, by the token reader (a whole key) and by lookupKey (a key
// read across Writes), and nothing else is.
func TestMemberLookup(t *testing.T) {
	for n := range nodes {
		for _, m := range nodes[n].members {
			if got, want := lookupKey(uint8(n), []byte(m.name)), roleOf(m); got != want {
				t.Errorf("node %d: lookupKey(%q) = %v, want %v", n, m.name, got, want)
			}
			for _, near := range []string{m.name[:len(m.name)-1], m.name + "s", "x" + m.name[1:], strings.ToUpper(m.name[:1]) + m.name[1:]} {
				if got := lookupKey(uint8(n), []byte(near)); got != 0 && !isMember(n, near) {
					t.Errorf("node %d: lookupKey(%q) = %v, want none", n, near, got)
				}
			}
		}
	}
	// Through feedTokens: a usage object with every OpenAI member, other keys of the same
	// lengths and first bytes around them.
	body := `{"usagE":{"prompt_tokens":9},"model":"m","modeL":"x","usage":{"prompt_tokenS":7,"prompt_tokens":1,` +
		`"completion_tokenz":8,"completion_tokens":2,"prompt_tokens_details":{"cached_tokenZ":6,"cached_tokens":3},` +
		`"completion_tokens_details":{"reasoning_tokenS":5,"reasoning_tokens":4}}}`
	want := Usage{Model: "m", PromptTokens: 1, CompletionTokens: 2, CacheReadTokens: 3, ReasoningTokens: 4, Source: SourceResponse}
	if got := scanAll(OpenAIChat, FormatJSON, []byte(body)); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func isMember(n int, name string) bool {
	for _, m := range nodes[n].members {
		if m.name == name {
			return true
		}
	}
	return false
}
