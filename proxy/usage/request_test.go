package usage

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPrepareOpenAIStream(t *testing.T) {
	cases := []struct {
		name, in, want string
		injected       bool
	}{
		{"stream_options absent",
			`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`,
			`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`, true},
		{"stream_options absent, pretty-printed with a trailing newline",
			"{\n  \"stream\": true,\n  \"model\": \"gpt-4o\"\n}\n",
			"{\n  \"stream\": true,\n  \"model\": \"gpt-4o\"\n,\"stream_options\":{\"include_usage\":true}}\n", true},
		{"stream_options without include_usage",
			`{"model":"gpt-4o","stream":true,"stream_options":{"include_obfuscation":false},"n":1}`,
			`{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false},"n":1}`, true},
		{"empty stream_options",
			`{"stream":true,"stream_options":{ }}`,
			`{"stream":true,"stream_options":{"include_usage":true }}`, true},
		{"include_usage false",
			`{"stream":true,"stream_options":{"include_usage": false},"model":"gpt-4o"}`,
			`{"stream":true,"stream_options":{"include_usage": true},"model":"gpt-4o"}`, true},
		{"stream_options null",
			`{"stream":true,"stream_options":null}`,
			`{"stream":true,"stream_options":{"include_usage":true}}`, true},
		{"include_usage already true",
			`{"stream":true,"stream_options":{"include_usage":true}}`,
			`{"stream":true,"stream_options":{"include_usage":true}}`, false},
		{"stream key spelled with escapes",
			`{"str\u0065am":true}`,
			`{"str\u0065am":true,"stream_options":{"include_usage":true}}`, true},
		{"no literal true anywhere", `{"model":"gpt-4o","stream":1}`, `{"model":"gpt-4o","stream":1}`, false},
		{"stream false", `{"model":"gpt-4o","stream":false}`, `{"model":"gpt-4o","stream":false}`, false},
		{"stream absent", `{"model":"gpt-4o"}`, `{"model":"gpt-4o"}`, false},
		{"stream as a string", `{"stream":"true"}`, `{"stream":"true"}`, false},
		{"the last stream key wins", `{"stream":true,"stream":false}`, `{"stream":true,"stream":false}`, false},
		{"stream only inside a message",
			`{"messages":[{"content":"{\"stream\":true}"}],"metadata":{"stream":true}}`,
			`{"messages":[{"content":"{\"stream\":true}"}],"metadata":{"stream":true}}`, false},
		{"not JSON", `stream=true`, `stream=true`, false},
		{"truncated JSON", `{"stream":true,"messages":[`, `{"stream":true,"messages":[`, false},
		{"a JSON array", `[{"stream":true}]`, `[{"stream":true}]`, false},
		{"stream_options of the wrong type", `{"stream":true,"stream_options":[]}`, `{"stream":true,"stream_options":[]}`, false},
		{"empty body", ``, ``, false},
	}
	for _, c := range cases {
		dst := []byte("prefix:")
		out, injected := PrepareOpenAIStream(dst, []byte(c.in))
		if injected != c.injected {
			t.Errorf("%s: injected=%v, want %v", c.name, injected, c.injected)
		}
		want := c.want
		if injected {
			want = "prefix:" + want // appended to dst
		}
		if string(out) != want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, out, want)
		}
	}
}

func TestRequestModel(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"model":"gpt-4o","messages":[]}`, "gpt-4o"},
		{`{"messages":[{"role":"user","content":"use \"model\":\"x\""}], "model" : "claude-sonnet-4-5" }`, "claude-sonnet-4-5"},
		{`{"metadata":{"model":"not-me"},"input":"hi"}`, ""},
		{`{"model":"a","model":"b"}`, "b"},
		{`{"model":"gpt\u002d4o"}`, "gpt-4o"},
		{`{"model":null}`, ""},
		{`{"model":42}`, ""},
		{`{"model":"gpt-4o","messages":[`, "gpt-4o"}, // best effort on a cut body
		{`not json`, ""},
		{``, ""},
	}
	for _, c := range cases {
		if got := RequestModel([]byte(c.in)); got != c.want {
			t.Errorf("RequestModel(%s) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestModelFromPath(t *testing.T) {
	cases := []struct{ in, want string }{
		{"/v1beta/models/gemini-2.5-flash:generateContent", "gemini-2.5-flash"},
		{"/v1beta/models/gemini-2.5-flash:streamGenerateContent", "gemini-2.5-flash"},
		{"/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-pro:streamGenerateContent", "gemini-2.5-pro"},
		{"models/gemini-embedding-001:embedContent", "gemini-embedding-001"},
		{"/v1beta/models/gemini-2.5-flash", "gemini-2.5-flash"},
		{"/v1beta/tunedModels/my-model:generateContent", ""},
		{"/v1/chat/completions", ""},
	}
	for _, c := range cases {
		if got := ModelFromPath([]byte(c.in)); got != c.want {
			t.Errorf("ModelFromPath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestContainsStream(t *testing.T) {
	cases := map[string]bool{
		"stream": true, `{"stream":true}`: true, "upstream": true, "xxstreamxx": true,
		"": false, "strea": false, "tream": false, "m": false, "mmmmmm": false, "streAm": false,
		"stre am": false, "streamm": true, "sstream": true, `{"model":"gpt-4o","messages":[]}`: false,
		"strem stram stream": true, "stramstre": false,
	}
	for in, want := range cases {
		if got := containsStream([]byte(in)); got != want {
			t.Errorf("containsStream(%q) = %v, want %v", in, got, want)
		}
	}
}

// A client-chosen model is kept whole up to MaxModel bytes; a longer one is
// cut on a UTF-8 boundary and ends with CutMark, whether it comes from the
// body (plain or escaped) or from a Gemini path.
func TestLongModelIsCut(t *testing.T) {
	long := strings.Repeat("m", 4<<20)
	fits := strings.Repeat("m", MaxModel)
	euro := strings.Repeat("€", 200) // 3 bytes each: a cut must not split one
	cases := []struct{ name, got, want string }{
		{"fits", RequestModel([]byte(`{"model":"` + fits + `"}`)), fits},
		{"4 MiB", RequestModel([]byte(`{"model":"` + long + `"}`)), strings.Repeat("m", MaxModel-len(CutMark)) + CutMark},
		{"escaped", RequestModel([]byte(`{"model":"` + strings.Repeat(`\u0041`, 1<<16) + `"}`)), strings.Repeat("A", MaxModel-len(CutMark)) + CutMark},
		{"utf-8", RequestModel([]byte(`{"model":"` + euro + `"}`)), strings.Repeat("€", (MaxModel-len(CutMark))/3) + CutMark},
		{"gemini path", ModelFromPath([]byte("/v1beta/models/" + long + ":generateContent")), strings.Repeat("m", MaxModel-len(CutMark)) + CutMark},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %d bytes %.20q…, want %d bytes", c.name, len(c.got), c.got, len(c.want))
		}
		if len(c.got) > MaxModel || !utf8.ValidString(c.got) {
			t.Errorf("%s: %d bytes, valid UTF-8 %v", c.name, len(c.got), utf8.ValidString(c.got))
		}
	}
}

func TestCutString(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"", 8, ""},
		{"abcdefgh", 8, "abcdefgh"},
		{"abcdefghi", 8, "abcde…"},
		{"abcd€€", 8, "abcd…"},                                   // "€" would end past 5 bytes
		{"abc€€", 8, "abc…"},                                     // cut back to the start of the first "€"
		{"ab€€€", 8, "ab€…"},                                     // "€" ends at the cut
		{"abc€€x", 9, "abc€…"},                                   // "€" fits before the mark
		{"\x80\x80\x80\x80\x80\x80\x80\x80\x80", 8, "\x80\x80…"}, // not UTF-8: still bounded
	}
	for _, c := range cases {
		got := CutString(c.in, c.max)
		if got != c.want || len(got) > c.max {
			t.Errorf("CutString(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
		if b := string(AppendCut([]byte("x"), []byte(c.in), c.max)); b != "x"+c.want {
			t.Errorf("AppendCut(%q, %d) = %q, want %q", c.in, c.max, b, "x"+c.want)
		}
	}
}
