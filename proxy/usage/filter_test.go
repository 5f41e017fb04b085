package usage

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func newStripper(api API) *Scanner {
	s := new(Scanner)
	s.Reset(api, FormatSSE)
	s.StripInjectedUsage(true)
	return s
}

func filterAll(s *Scanner, pieces ...[]byte) []byte {
	var out []byte
	for _, p := range pieces {
		out = s.Filter(out, p)
		if len(s.hold) > MaxEventBytes {
			panic("Filter held more than MaxEventBytes")
		}
	}
	return s.Flush(out)
}

// What the client receives when the gateway injected include_usage is, byte for byte, the
// stream the upstream sends without it; the trace still gets the figures.
func TestFilterRestoresStreamWithoutUsage(t *testing.T) {
	cases := []struct {
		api               API
		withUsage, plain  string
		wantPrompt, wantC int64
	}{
		{OpenAIChat, "openai_chat_stream.sse", "openai_chat_stream_plain.sse", 2150, 12},
		{OpenAICompletions, "openai_completions_stream.sse", "openai_completions_stream_plain.sse", 5, 4},
	}
	for _, c := range cases {
		for _, eol := range []string{"\n", "\r\n", "\r"} {
			in := bytes.ReplaceAll(readFixture(t, c.withUsage), []byte("\n"), []byte(eol))
			want := bytes.ReplaceAll(readFixture(t, c.plain), []byte("\n"), []byte(eol))
			check := func(how string, s *Scanner, got []byte) {
				t.Helper()
				if !bytes.Equal(got, want) {
					t.Fatalf("%s %q %s:\n got %q\nwant %q", c.withUsage, eol, how, got, want)
				}
				u := s.Usage()
				if u.PromptTokens != c.wantPrompt || u.CompletionTokens != c.wantC || u.Source != SourceResponse {
					t.Fatalf("%s %q %s: usage %+v", c.withUsage, eol, how, u)
				}
			}
			s := newStripper(c.api)
			check("whole", s, filterAll(s, in))
			for i := 0; i <= len(in); i++ {
				s := newStripper(c.api)
				check("split", s, filterAll(s, in[:i], in[i:]))
			}
			s = newStripper(c.api)
			var pieces [][]byte
			for i := range in {
				pieces = append(pieces, in[i:i+1])
			}
			check("byte by byte", s, filterAll(s, pieces...))
			rng := rand.New(rand.NewPCG(7, uint64(len(in))))
			for range 200 {
				s := newStripper(c.api)
				check("random pieces", s, filterAll(s, randomPieces(rng, in)...))
			}
		}
	}
}

// Each event is forwarded as soon as its blank line arrives, whole, never later.
func TestFilterKeepsEventBoundaries(t *testing.T) {
	in := readFixture(t, "openai_chat_stream.sse")
	plain := readFixture(t, "openai_chat_stream_plain.sse")
	wantEvents := strings.SplitAfter(string(plain), "\n\n")
	s := newStripper(OpenAIChat)
	var got []string
	for _, ev := range strings.SplitAfter(string(in), "\n\n") {
		if ev == "" {
			continue
		}
		if out := s.Filter(nil, []byte(ev)); len(out) > 0 {
			got = append(got, string(out))
		}
	}
	if len(got) != len(wantEvents)-1 { // SplitAfter leaves a trailing ""
		t.Fatalf("forwarded %d events, want %d: %q", len(got), len(wantEvents)-1, got)
	}
	for i := range got {
		if got[i] != wantEvents[i] {
			t.Fatalf("event %d:\n got %q\nwant %q", i, got[i], wantEvents[i])
		}
	}
}

func TestFilterCases(t *testing.T) {
	cases := []struct {
		name, in, want string
		usage          Usage
	}{
		{"compat provider: usage on the last content chunk is cut, the chunk kept",
			"data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}\n\n",
			"data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
			Usage{PromptTokens: 3, CompletionTokens: 4, Source: SourceResponse}},
		{"usage as the first member takes its comma",
			"data: {\"usage\": null , \"id\":\"x\",\"choices\":[{\"delta\":{}}]}\n\n",
			"data: { \"id\":\"x\",\"choices\":[{\"delta\":{}}]}\n\n", Usage{}},
		{"usage as the only member",
			"data: {\"usage\":null}\n\n", "data: {}\n\n", Usage{}},
		{"Azure's first chunk has empty choices but no usage: kept",
			"data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{}}]}\n\n",
			"data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{}}]}\n\n",
			Usage{}},
		{"nested usage untouched",
			"data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"usage\":null}]}\n\n",
			"data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"usage\":null}]}\n\n", Usage{}},
		{"comments, other fields and keep-alives pass",
			": ping\n\nevent: chunk\nid: 7\ndata: {\"choices\":[{}],\"usage\":null}\n\n\n",
			": ping\n\nevent: chunk\nid: 7\ndata: {\"choices\":[{}]}\n\n\n", Usage{}},
		{"an unterminated last event is flushed",
			"data: {\"choices\":[{}],\"usage\":null}", "data: {\"choices\":[{}]}", Usage{}},
		{"the usage-only chunk is dropped even unterminated",
			"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}", "",
			Usage{PromptTokens: 1, CompletionTokens: 2, Source: SourceResponse}},
		{"usage split over data lines is left alone (cutting would break the framing)",
			"data: {\"choices\":[{}],\"usage\":\ndata: null}\n\n", "data: {\"choices\":[{}],\"usage\":\ndata: null}\n\n", Usage{}},
		{"not JSON passes",
			"data: [DONE]\n\n", "data: [DONE]\n\n", Usage{}},
	}
	for _, c := range cases {
		for i := 0; i <= len(c.in); i++ {
			s := newStripper(OpenAIChat)
			got := filterAll(s, []byte(c.in[:i]), []byte(c.in[i:]))
			if string(got) != c.want {
				t.Fatalf("%s, split at %d:\n got %q\nwant %q", c.name, i, got, c.want)
			}
			if u := s.Usage(); u != c.usage {
				t.Fatalf("%s: usage %+v, want %+v", c.name, u, c.usage)
			}
		}
	}
}

func TestFilterOversizedEventPassesThrough(t *testing.T) {
	big := strings.Repeat("x", MaxEventBytes+1000)
	in := "data: {\"choices\":[{\"delta\":{\"content\":\"" + big + "\"}}],\"usage\":null}\n\n" +
		"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":20}}\n\ndata: [DONE]\n\n"
	want := "data: {\"choices\":[{\"delta\":{\"content\":\"" + big + "\"}}],\"usage\":null}\n\ndata: [DONE]\n\n"
	for _, size := range []int{1 << 10, 64 << 10, len(in)} {
		s := newStripper(OpenAIChat)
		var pieces [][]byte
		for b := []byte(in); len(b) > 0; {
			n := min(size, len(b))
			pieces = append(pieces, b[:n])
			b = b[n:]
		}
		got := filterAll(s, pieces...)
		if string(got) != want {
			t.Fatalf("pieces of %d: output differs (len %d, want %d)", size, len(got), len(want))
		}
		if u := s.Usage(); u.PromptTokens != 10 || u.CompletionTokens != 20 {
			t.Fatalf("usage %+v", u)
		}
		if cap(s.hold) > MaxEventBytes+64<<10 {
			t.Fatalf("held buffer grew to %d", cap(s.hold))
		}
	}
}

func TestFilterWithoutStripIsWrite(t *testing.T) {
	in := readFixture(t, "openai_chat_stream.sse")
	var s Scanner
	s.Reset(OpenAIChat, FormatSSE)
	out := s.Filter(make([]byte, 0, 16), in)
	if &out[0] != &in[0] || len(out) != len(in) {
		t.Fatal("without stripping Filter must return its input")
	}
	if u := s.Usage(); u.PromptTokens != 2150 {
		t.Fatalf("usage not read: %+v", u)
	}
	// Stripping applies to OpenAI chat and completions streams only.
	for _, c := range []struct {
		api API
		f   Format
	}{{AnthropicMessages, FormatSSE}, {OpenAIResponses, FormatSSE}, {OpenAIChat, FormatJSON}} {
		s.Reset(c.api, c.f)
		s.StripInjectedUsage(true)
		if s.strip {
			t.Errorf("strip enabled for %v/%v", c.api, c.f)
		}
	}
}
