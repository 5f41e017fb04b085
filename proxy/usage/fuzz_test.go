package usage

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets for every parser of untrusted bytes. Run one with e.g.
//
//	go test -fuzz=FuzzScanner ./proxy/usage/
//
// Without -fuzz they run their seed corpus (the fixtures) as ordinary tests.

func addFixtureSeeds(f *testing.F, add func(body []byte, api API, format Format)) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, name := range files {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		api, format := OpenAIChat, FormatJSON
		for _, fx := range fixtures {
			if filepath.Base(name) == fx.file {
				api, format = fx.api, fx.format
			}
		}
		add(body, api, format)
	}
}

// checkBounds asserts the scanner's fixed-size state stayed within its limits.
func checkBounds(t *testing.T, s *Scanner) {
	t.Helper()
	if int(s.depth) > maxDepth || s.keyLen > keyMax+1 || s.capLen > modelMax+1 || s.modelLen > modelMax ||
		len(s.hold) > MaxEventBytes || s.skip < 0 {
		t.Fatalf("state out of bounds: depth=%d key=%d cap=%d model=%d hold=%d skip=%d",
			s.depth, s.keyLen, s.capLen, s.modelLen, len(s.hold), s.skip)
	}
}

// The usage read never depends on how the body was cut into pieces.
func FuzzScanner(f *testing.F) {
	addFixtureSeeds(f, func(body []byte, api API, format Format) { f.Add(body, uint8(api), uint8(format), uint16(len(body)/2)) })
	f.Fuzz(func(t *testing.T, body []byte, api, format uint8, split uint16) {
		a, fm := API(api%uint8(len(apiNames))), Format(format%3)
		var whole, halves, bytewise Scanner
		whole.Reset(a, fm)
		whole.Write(body)
		checkBounds(t, &whole)

		cut := int(split) % (len(body) + 1)
		halves.Reset(a, fm)
		halves.Write(body[:cut])
		checkBounds(t, &halves)
		halves.Write(body[cut:])

		bytewise.Reset(a, fm)
		for i := range body {
			bytewise.Write(body[i : i+1])
			checkBounds(t, &bytewise)
		}
		u := whole.Usage()
		if h, b := halves.Usage(), bytewise.Usage(); h != u || b != u {
			t.Fatalf("whole %+v\nsplit at %d %+v\nbyte by byte %+v", u, cut, h, b)
		}
		if u.PromptTokens < 0 || u.CompletionTokens < 0 || u.CacheReadTokens < 0 || u.CacheCreationTokens < 0 || u.ReasoningTokens < 0 {
			t.Fatalf("negative figures %+v", u)
		}
	})
}

// Filter's output never depends on how the stream was cut, never holds more than
// MaxEventBytes, and is the identity on a stream without a "usage" key.
func FuzzFilter(f *testing.F) {
	addFixtureSeeds(f, func(body []byte, _ API, _ Format) { f.Add(body, uint16(len(body)/3)) })
	f.Add([]byte("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\r\r\ndata: [DONE]\r"), uint16(5))
	f.Fuzz(func(t *testing.T, body []byte, split uint16) {
		run := func(pieces ...[]byte) ([]byte, Usage) {
			s := newStripper(OpenAIChat)
			var out []byte
			for _, p := range pieces {
				out = s.Filter(out, p)
				checkBounds(t, s)
			}
			return s.Flush(out), s.Usage()
		}
		cut := int(split) % (len(body) + 1)
		whole, u := run(body)
		halves, uh := run(body[:cut], body[cut:])
		if !bytes.Equal(whole, halves) || u != uh {
			t.Fatalf("split at %d changes the output:\n%q\n%q", cut, whole, halves)
		}
		var pieces [][]byte
		for i := range body {
			pieces = append(pieces, body[i:i+1])
		}
		if bytewise, ub := run(pieces...); !bytes.Equal(whole, bytewise) || u != ub {
			t.Fatalf("byte by byte changes the output:\n%q\n%q", whole, bytewise)
		}
		if !bytes.Contains(body, []byte("usage")) && !bytes.Equal(whole, body) {
			t.Fatalf("changed a stream without usage:\n%q\n%q", body, whole)
		}
		if len(whole) > len(body) {
			t.Fatalf("output longer than input")
		}
	})
}

// RequestModel agrees with encoding/json on every valid body.
func FuzzRequestModel(f *testing.F) {
	for _, s := range []string{`{"model":"gpt-4o","messages":[]}`, `{"mod\u0065l":"x"}`, `{"model":"a","model":null}`, `{"model":"\ud83d\ude00"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := RequestModel(body)
		var m map[string]any
		if !utf8.Valid(body) || json.Unmarshal(body, &m) != nil {
			return
		}
		want, _ := m["model"].(string)
		if want = CutString(want, MaxModel); got != want {
			t.Fatalf("RequestModel(%q) = %q, encoding/json reads %q", body, got, want)
		}
	})
}

// PrepareOpenAIStream injects exactly when encoding/json says it should, and then changes
// nothing but stream_options.include_usage.
func FuzzPrepareOpenAIStream(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt-4o","stream":true}`, `{"stream":true,"stream_options":{"include_usage":false,"x":1}}`,
		`{"stream":true,"stream_options":null}`, `{"stream":true,"stream_options":{}}`, `{"stream" : true , "stream_options" : { } }`,
		`{"\u0073tream":true}`, `{"stream":false,"x":true}`, `{"x":"m","stream":true}`, `{"m":1,"stream":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, injected := PrepareOpenAIStream([]byte("x"), body)
		if !injected {
			if len(body) > 0 && &out[0] != &body[0] || len(out) != len(body) {
				t.Fatal("not injected but body changed")
			}
		} else if out[0] != 'x' {
			t.Fatal("dst prefix lost")
		}
		var in map[string]any
		if !json.Valid(body) || json.Unmarshal(body, &in) != nil || in == nil {
			return
		}
		so, hasSO := in["stream_options"]
		soMap, soIsMap := so.(map[string]any)
		want := in["stream"] == true && (!hasSO || so == nil || soIsMap && soMap["include_usage"] != true)
		if injected != want {
			t.Fatalf("injected=%v for %s", injected, body)
		}
		if !injected {
			return
		}
		var got map[string]any
		if err := json.Unmarshal(out[1:], &got); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out[1:])
		}
		gotSO, _ := got["stream_options"].(map[string]any)
		if gotSO["include_usage"] != true {
			t.Fatalf("include_usage not set: %s", out[1:])
		}
		delete(gotSO, "include_usage")
		if soMap == nil {
			soMap = map[string]any{}
		}
		delete(soMap, "include_usage")
		if !reflect.DeepEqual(gotSO, soMap) {
			t.Fatalf("other stream_options changed: %s", out[1:])
		}
		delete(got, "stream_options")
		delete(in, "stream_options")
		if !reflect.DeepEqual(got, in) {
			t.Fatalf("other members changed:\n%s\n%s", body, out[1:])
		}
	})
}

// ModelFromPath reads the model segment of a Gemini path the client chose:
// the text after the last "models/" up to ':', '/' or '?', never more.
func FuzzModelFromPath(f *testing.F) {
	for _, s := range []string{"/v1beta/models/gemini-2.5-flash:generateContent", "/v1beta/models/", "models/x",
		"/a/models/b/models/c:stream", "/xmodels/y", "/v1beta/tunedModels/t:generate", "/models/a?b", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, path []byte) {
		m := ModelFromPath(path)
		if strings.ContainsAny(m, ":/?") {
			t.Fatalf("ModelFromPath(%q) = %q holds a separator", path, m)
		}
		if m != "" && !bytes.Contains(path, []byte("models/"+m)) {
			t.Fatalf("ModelFromPath(%q) = %q is not in the path", path, m)
		}
		i := bytes.LastIndex(path, []byte("models/"))
		if m == "" || i < 0 {
			return
		}
		if !bytes.HasPrefix(path[i+len("models/"):], []byte(m)) {
			t.Fatalf("ModelFromPath(%q) = %q is not the last models/ segment", path, m)
		}
	})
}
