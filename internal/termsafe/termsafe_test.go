package termsafe_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aigw/aigw/internal/termsafe"
)

func TestString(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"gpt-4o-mini", "gpt-4o-mini"},
		{"/v1/chat/completions?x=1&y=[2]", "/v1/chat/completions?x=1&y=[2]"},
		{"日本語 · café …", "日本語 · café …"},
		{`C:\path\x1b`, `C:\path\x1b`}, // already-escaped looking text stays as it is
		{"evil\x1b]0;pwned\x07\x1b[2J", `evil\x1b]0;pwned\x07\x1b[2J`},
		{"a\tb\nc\rd\be\x00f\x7f", `a\x09b\x0ac\x0dd\x08e\x00f\x7f`},
		{"csi\u009b2J osc\u009d52;c;aGk=\u009c", `csi\u009b2J osc\u009d52;c;aGk=\u009c`},
		{"\u0080\u009f\u00a0", `\u0080\u009f` + "\u00a0"},
		{"abc\u202edcba\u202c \u2066x\u2069 \u202a\u202b\u202d\u2067\u2068", `abc\u202edcba\u202c \u2066x\u2069 \u202a\u202b\u202d\u2067\u2068`},
		{"bad\xffutf8\xc3", `bad\xffutf8\xc3`},
		{"\xe2\x80\xae", `\u202e`},       // the bidi override, well formed
		{"\xc2\x9b", `\u009b`},           // the 8-bit CSI, well formed
		{"\ufffd", "\ufffd"},             // a real replacement character is text
		{"\u200b\u2028", "\u200b\u2028"}, // not controls a terminal acts on
	}
	for _, c := range cases {
		if got := termsafe.String(c.in); got != c.want {
			t.Errorf("String(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Plain text is returned as it is: the table and TUI call String on every
// cell, most of them ids and names.
func TestStringPlainDoesNotAllocate(t *testing.T) {
	s := strings.Repeat("gpt-4o-mini · 日本語 ", 4)
	if n := testing.AllocsPerRun(100, func() { _ = termsafe.String(s) }); n != 0 {
		t.Errorf("%v allocations for plain text", n)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "gpt-4o", "evil\x1b]0;pwned\x07\x1b[2J", "\u009b2J", "\u202eabc", "\xff\xfe", "a\tb\r\n", "\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := termsafe.String(s)
		if !utf8.ValidString(out) {
			t.Fatalf("String(%q) = %q: not valid UTF-8", s, out)
		}
		for i := 0; i < len(out); i++ {
			if c := out[i]; c < 0x20 || c == 0x7f {
				t.Fatalf("String(%q) = %q: byte %#x at %d", s, out, c, i)
			}
		}
		for _, r := range out {
			if termsafe.Unsafe(r) || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
				t.Fatalf("String(%q) = %q: rune %U", s, out, r)
			}
		}
		if termsafe.String(out) != out {
			t.Fatalf("String(%q) = %q is escaped again", s, out)
		}
		if plain(s) && out != s {
			t.Fatalf("plain %q changed to %q", s, out)
		}
		if !plain(s) && out == s {
			t.Fatalf("%q is not plain but came back unchanged", s)
		}
	})
}

// plain is the fuzz target's own idea of text a terminal shows as it is.
func plain(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return false
		}
	}
	return true
}
