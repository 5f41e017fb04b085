package proxy

import (
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxy/usage"
	"github.com/aigw/aigw/store"
)

func TestModelPatterns(t *testing.T) {
	cases := []struct {
		pattern string
		yes, no []string
	}{
		{"gpt-5", []string{"gpt-5"}, []string{"gpt-5-mini", "gpt-", "GPT-5", "xgpt-5", ""}},
		{"gpt-5*", []string{"gpt-5", "gpt-5-mini", "gpt-5.1"}, []string{"gpt-4o", "xgpt-5"}},
		{"claude-*", []string{"claude-", "claude-opus-4-1", "claude-3-5-sonnet@20240620"}, []string{"claude", "anthropic/claude-x"}},
		{"*-mini", []string{"o4-mini", "gpt-5-mini", "-mini"}, []string{"o4-mini-high", "mini"}},
		{"*", []string{"", "anything/at:all"}, nil},
		{"claude-*-4-5", []string{"claude-sonnet-4-5", "claude--4-5", "claude-a-4-5-4-5"}, []string{"claude-4-5", "claude-sonnet-4-5-x"}},
		{"a*b*c", []string{"abc", "aXbYc", "abbc", "abcbc", "acbc"}, []string{"ab", "acb", "bc", "abcx"}},
		{"a**b", []string{"ab", "axxb"}, []string{"a", "ba"}},
		{"meta-llama/*", []string{"meta-llama/Llama-3-70b"}, []string{"meta-llama"}},
		{"*aa*aa*", []string{"aaaa", "aaxaa"}, []string{"aaa", "aa"}},
	}
	for _, c := range cases {
		a := compileModels([]string{c.pattern})
		for _, m := range c.yes {
			if !a.allows(m) {
				t.Errorf("%q does not allow %q", c.pattern, m)
			}
		}
		for _, m := range c.no {
			if a.allows(m) {
				t.Errorf("%q allows %q", c.pattern, m)
			}
		}
	}
	if compileModels(nil) != nil || compileModels([]string{}) != nil {
		t.Error("an empty list compiles to a list")
	}
	a := compileModels([]string{"gpt-5", "claude-*"})
	if !a.allows("gpt-5") || !a.allows("claude-x") || a.allows("gemini") {
		t.Error("a list allows what one of its patterns matches, and nothing else")
	}
}

// referenceGlob is the pattern as a regular expression: * is .*, anything
// else itself.
func referenceGlob(pattern string) *regexp.Regexp {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^(?s:` + strings.Join(parts, ".*") + `)$`)
}

// The matcher against a regular expression, and against path.Match where
// they agree (no '/', which path.Match's * does not cross).
func FuzzModelPattern(f *testing.F) {
	for _, s := range [][2]string{{"gpt-5*", "gpt-5-mini"}, {"*-mini", "o4-mini"}, {"a*b*c", "abcbc"}, {"*aa*aa*", "aaa"},
		{"claude-*-4-5", "claude-sonnet-4-5"}, {"**", ""}, {"x", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, model string) {
		if store.ValidModels([]string{pattern}) != nil {
			return // refused when stored: never compiled
		}
		got := compileModels([]string{pattern}).allows(model)
		if want := referenceGlob(pattern).MatchString(model); got != want {
			t.Fatalf("%q vs %q: %v, regexp says %v", pattern, model, got, want)
		}
		if strings.Contains(model, "/") || strings.Contains(pattern, "/") {
			return
		}
		if want, err := path.Match(pattern, model); err == nil && got != want {
			t.Fatalf("%q vs %q: %v, path.Match says %v", pattern, model, got, want)
		}
	})
}

func TestModelInPath(t *testing.T) {
	cases := []struct {
		path   string
		gemini bool
		want   string
	}{
		{"/v1/models/gpt-5", false, "gpt-5"},
		{"/v1/models/ft:gpt-4o:acme::abc", false, "ft:gpt-4o:acme::abc"},
		{"/v1/models", false, ""},
		{"/v1/chat/completions", false, ""},
		{"/v1/models/", false, ""},
		{"/v1/fine_tuning/models/x/checkpoints", false, ""},
		{"/v1beta/models/gemini-2.5-flash:generateContent", true, "gemini-2.5-flash"},
		{"/v1beta/models/gemini-2.5-flash", true, "gemini-2.5-flash"},
		{"/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-pro:streamGenerateContent", true, "gemini-2.5-pro"},
		{"/v1beta/models", true, ""},
		{"/v1beta/tunedModels/x:generateContent", true, ""},
	}
	// The Gemini reading is usage.ModelFromPath's.
	for _, c := range cases {
		if c.gemini && string(modelInPath([]byte(c.path), true)) != usage.ModelFromPath([]byte(c.path)) {
			t.Errorf("%q: modelInPath and usage.ModelFromPath differ", c.path)
		}
	}
	for _, c := range cases {
		if got := string(modelInPath([]byte(c.path), c.gemini)); got != c.want {
			t.Errorf("modelInPath(%q, gemini %v) = %q, want %q", c.path, c.gemini, got, c.want)
		}
	}
	for p, want := range map[string]bool{"/v1/models": true, "/v1beta/models": true, "/v1beta/openai/models": true,
		"/v1/models/gpt-5": false, "/models": true, "/v1/tunedModels": false, "/v1/chat/completions": false} {
		if isModelList([]byte(p)) != want {
			t.Errorf("isModelList(%q) != %v", p, want)
		}
	}
}

// Matching allocates nothing, whatever the list.
func BenchmarkModelAllow(b *testing.B) {
	a := compileModels([]string{"gpt-5", "gpt-5-mini", "o4-*", "claude-*-4-5", "gemini-2.5-*", "*-embedding-*"})
	b.ReportAllocs()
	for b.Loop() {
		if !a.allows("text-embedding-3-small") || a.allows("gpt-4.1") {
			b.Fatal("wrong answer")
		}
	}
}

func TestModelAllowAllocatesNothing(t *testing.T) {
	a := compileModels([]string{"gpt-5", "o4-*", "claude-*-4-5", "*-embedding-*"})
	if n := testing.AllocsPerRun(100, func() { a.allows("text-embedding-3-small") }); n != 0 {
		t.Errorf("%v allocations per match", n)
	}
}
