package proxy

import (
	"bytes"
	"net/url"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestSplitProvider(t *testing.T) {
	for _, c := range []struct{ path, name, rest string }{
		{"/openai/v1/chat/completions", "openai", "/v1/chat/completions"},
		{"/openai", "openai", ""},
		{"/openai/", "openai", "/"},
		{"/", "", ""},
		{"", "", ""},
		{"relative/x", "", ""},
		{"/gemini/v1beta/models/gemini-2.5-flash:generateContent", "gemini", "/v1beta/models/gemini-2.5-flash:generateContent"},
	} {
		name, rest := splitProvider([]byte(c.path))
		if string(name) != c.name || string(rest) != c.rest {
			t.Errorf("splitProvider(%q) = %q, %q; want %q, %q", c.path, name, rest, c.name, c.rest)
		}
	}
}

func FuzzSplitProvider(f *testing.F) {
	for _, s := range []string{"/openai/v1/x", "/a", "//", "/a/../b", "", "/%2F"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, path []byte) {
		name, rest := splitProvider(path)
		if bytes.IndexByte(name, '/') >= 0 {
			t.Fatalf("provider name %q contains a slash", name)
		}
		if len(rest) > 0 && rest[0] != '/' {
			t.Fatalf("rest %q does not start with /", rest)
		}
		if name != nil && 1+len(name)+len(rest) != len(path) {
			t.Fatalf("split of %q loses bytes: %q + %q", path, name, rest)
		}
	})
}

// An escaped path reads back as the same bytes (net/url decodes it to the
// original) and holds nothing that would end the path in a request line.
func FuzzAppendEscapedPath(f *testing.F) {
	for _, s := range []string{"/v1/chat/completions", "/%2e%2e/x", "/a b?c#d", "/café", "/models/g:gen", "\x00\xff", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, path []byte) {
		esc := appendEscapedPath([]byte("/base"), path)
		if !bytes.HasPrefix(esc, []byte("/base")) {
			t.Fatalf("prefix lost: %q", esc)
		}
		esc = esc[len("/base"):]
		if i := bytes.IndexAny(esc, "?# \t\r\n"); i >= 0 {
			t.Fatalf("escaped %q keeps %q", path, esc[i])
		}
		back, err := url.PathUnescape(string(esc))
		if err != nil || back != string(path) {
			t.Fatalf("%q escaped to %q reads back as %q (%v)", path, esc, back, err)
		}
	})
}

func TestExtractKey(t *testing.T) {
	for _, c := range []struct {
		name    string
		headers map[string]string
		query   string
		want    string
		src     keySource
	}{
		{"bearer", map[string]string{"Authorization": "Bearer aigw_abc"}, "", "aigw_abc", keyAuthorization},
		{"bearer lower case scheme", map[string]string{"Authorization": "bearer aigw_abc"}, "", "aigw_abc", keyAuthorization},
		{"x-api-key", map[string]string{"x-api-key": "aigw_def"}, "", "aigw_def", keyXAPIKey},
		{"x-goog-api-key", map[string]string{"x-goog-api-key": "aigw_ghi"}, "", "aigw_ghi", keyXGoogAPIKey},
		{"query", nil, "alt=sse&key=aigw_jkl", "aigw_jkl", keyQuery},
		{"aigw key wins over another token", map[string]string{"Authorization": "Bearer sk-other", "x-api-key": "aigw_mno"}, "", "aigw_mno", keyXAPIKey},
		{"first when none is an aigw key", map[string]string{"Authorization": "Bearer sk-1", "x-api-key": "sk-2"}, "", "sk-1", keyAuthorization},
		{"basic auth is not a key", map[string]string{"Authorization": "Basic dXNlcg=="}, "", "", keyNone},
		{"empty bearer", map[string]string{"Authorization": "Bearer   "}, "", "", keyNone},
		{"nothing", nil, "", "", keyNone},
	} {
		var h fasthttp.RequestHeader
		for k, v := range c.headers {
			h.Set(k, v)
		}
		var args fasthttp.Args
		args.Parse(c.query)
		got, src := extractKey(&h, &args)
		if string(got) != c.want || src != c.src {
			t.Errorf("%s: got %q from %d, want %q from %d", c.name, got, src, c.want, c.src)
		}
	}
}

func FuzzExtractKey(f *testing.F) {
	f.Add("Bearer aigw_x", "", "", "key=aigw_y")
	f.Add("", "aigw_z", "sk", "")
	f.Add("bearer", " ", "\x00", "key")
	f.Fuzz(func(t *testing.T, auth, xapi, xgoog, query string) {
		var h fasthttp.RequestHeader
		h.Set("Authorization", auth)
		h.Set("X-Api-Key", xapi)
		h.Set("X-Goog-Api-Key", xgoog)
		var args fasthttp.Args
		args.Parse(query)
		key, src := extractKey(&h, &args)
		if (src == keyNone) != (len(key) == 0) {
			t.Fatalf("source %d with key %q", src, key)
		}
		if len(bytes.TrimSpace(key)) != len(key) {
			t.Fatalf("key %q keeps surrounding space", key)
		}
	})
}
