package proxy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aigw/aigw/proxy"
	"github.com/aigw/aigw/store"
)

// A key's model allow-list, through the proxy to the fake provider.

func withModels(models ...string) func(*store.KeyInput) {
	return func(in *store.KeyInput) { in.Models = models }
}

func TestModelAllowListPassesAllowedModels(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin", withModels("gpt-5", "gpt-4o-*", "o4-*"))
	for _, model := range []string{"gpt-5", "gpt-4o-mini", "o4-mini"} {
		r := e.do("POST", "/p/v1/chat/completions", bearer(key), `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`)
		if r.status != 200 {
			t.Errorf("allowed model %s: %d %s", model, r.status, r.body)
		}
	}
	if n := e.fake.Count(); n != 3 {
		t.Errorf("upstream saw %d requests, want 3", n)
	}
	if tr := e.rec.wait(t, 3)[1]; tr.Model != "gpt-4o-mini" || tr.Status != 200 {
		t.Errorf("trace of an allowed request: model %q status %d", tr.Model, tr.Status)
	}
}

// A refused model never reaches the upstream, in each provider's shape.
func TestModelAllowListRefusesOtherModels(t *testing.T) {
	cases := []struct {
		typ, method, path, body string
		auth                    func(string) map[string]string
		model                   string
		shape                   string // in the 403 body
	}{
		{"openai", "POST", "/v1/chat/completions", `{"model":"gpt-4.1","messages":[]}`, bearer, "gpt-4.1",
			`{"error":{"message":"aigw: model \"gpt-4.1\" is not allowed for this gateway key","type":"invalid_request_error","param":null,"code":"model_not_found"}}`},
		{"openai", "POST", "/v1/responses", `{"input":"hi","model":"gpt-5-pro"}`, bearer, "gpt-5-pro", `"code":"model_not_found"`},
		{"openai", "GET", "/v1/models/o3", "", bearer, "o3", `"type":"invalid_request_error"`},
		{"openai", "DELETE", "/v1/models/ft:gpt-4o:acme::abc", "", bearer, "ft:gpt-4o:acme::abc", `"code":"model_not_found"`},
		{"anthropic", "POST", "/v1/messages", `{"model":"claude-opus-4-1","max_tokens":5,"messages":[]}`, xAPIKey, "claude-opus-4-1",
			`{"type":"error","error":{"type":"permission_error","message":"aigw: model \"claude-opus-4-1\" is not allowed for this gateway key"}}`},
		{"anthropic", "POST", "/v1/messages/count_tokens", `{"model":"claude-opus-4-1","messages":[]}`, xAPIKey, "claude-opus-4-1", `"permission_error"`},
		{"anthropic", "GET", "/v1/models/claude-opus-4-1", "", xAPIKey, "claude-opus-4-1", `"permission_error"`},
		{"gemini", "POST", "/v1beta/models/gemini-2.5-pro:generateContent", `{"contents":[]}`, googKey, "gemini-2.5-pro",
			`{"error":{"code":403,"message":"aigw: model \"gemini-2.5-pro\" is not allowed for this gateway key","status":"PERMISSION_DENIED"}}`},
		{"gemini", "POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", `{"contents":[]}`, googKey, "gemini-2.5-pro", `"PERMISSION_DENIED"`},
		{"gemini", "GET", "/v1beta/models/gemini-2.5-pro", "", googKey, "gemini-2.5-pro", `"PERMISSION_DENIED"`},
		// An allowed model in the path does not carry another in the body.
		{"gemini", "POST", "/v1beta/models/gemini-2.5-flash:generateContent", `{"model":"models/gemini-2.5-pro","contents":[]}`, googKey, "gemini-2.5-pro", `"PERMISSION_DENIED"`},
		{"gemini", "POST", "/v1beta/openai/chat/completions", `{"model":"gemini-2.5-pro","messages":[]}`, bearer, "gemini-2.5-pro", `"PERMISSION_DENIED"`},
	}
	for _, c := range cases {
		t.Run(c.typ+" "+c.method+" "+c.path, func(t *testing.T) {
			e := newEnv(t)
			key, _ := e.setup(c.typ, 1, "round_robin", withModels("gpt-5", "gpt-4o-*", "claude-haiku-*", "gemini-2.5-flash"))
			r := e.do(c.method, "/p"+c.path, c.auth(key), c.body)
			if r.status != 403 || !strings.Contains(r.body, c.shape) {
				t.Fatalf("%d %s\nwant 403 with %s", r.status, r.body, c.shape)
			}
			if !strings.Contains(r.body, `\"`+c.model+`\"`) && !strings.Contains(r.body, "names none") {
				t.Errorf("the answer does not name the model %q: %s", c.model, r.body)
			}
			if r.header.Get("X-Aigw-Request-Id") == "" {
				t.Error("no request id on the 403")
			}
			if n := e.fake.Count(); n != 0 {
				t.Errorf("the upstream was called %d times", n)
			}
			tr := e.rec.wait(t, 1)[0]
			if tr.Status != 403 || !strings.Contains(tr.Error, "is not allowed for this gateway key") || len(tr.Attempts) != 0 {
				t.Errorf("trace: status %d error %q attempts %d", tr.Status, tr.Error, len(tr.Attempts))
			}
			if tr.Model != c.model {
				t.Errorf("trace model %q, want %q", tr.Model, c.model)
			}
		})
	}
}

// With a list, a body that names no model is refused: it could reach any.
func TestModelAllowListRefusesUnknownModel(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin", withModels("gpt-4o-mini", "gpt-4o-mini*"))
	for _, body := range []string{
		`{"messages":[{"role":"user","content":"hi"}]}`, // no model
		`{"model":42}`,                         // not a string
		`model=gpt-4o-mini`,                    // not JSON
		`{"metadata":{"model":"gpt-4o-mini"}}`, // not at the top
		`{"input_file_id":"file-1","endpoint":"/v1/chat/completions"}`,
	} {
		r := e.do("POST", "/p/v1/batches", bearer(key), body)
		if r.status != 403 || !strings.Contains(r.body, "the request names none") {
			t.Errorf("body %s: %d %s", body, r.status, r.body)
		}
	}
	// Parsers differ on which of several models counts: none is taken.
	for body, want := range map[string]string{
		`{"model":"gpt-4o-mini","model":"o3"}`: "names its model more than once",
		`{"model":"gpt-4o-mini","Model":"o3"}`: "names its model more than once",
		`{"MODEL":"o3"}`:                       `model \"o3\" is not allowed`, // Go's encoding/json reads it
	} {
		r := e.do("POST", "/p/v1/chat/completions", bearer(key), body)
		if r.status != 403 || !strings.Contains(r.body, want) {
			t.Errorf("body %s: %d %s; want 403 with %s", body, r.status, r.body, want)
		}
	}
	// A model cut to the trace's bound is not the model asked for.
	long := "gpt-4o-mini" + strings.Repeat("x", 300)
	for _, body := range []string{`{"model":"` + long + `"}`, `{"model":"\u0067` + long[1:] + `"}`} {
		if r := e.do("POST", "/p/v1/chat/completions", bearer(key), body); r.status != 403 {
			t.Errorf("an over-long model: %d %s", r.status, r.body)
		}
	}
	if n := e.fake.Count(); n != 0 {
		t.Errorf("the upstream was called %d times", n)
	}
	// What names no model and has no body passes (a stored response, a file list).
	if r := e.do("GET", "/p/v1/responses/resp_123", bearer(key), ""); r.status == 403 {
		t.Errorf("GET without a model: %d %s", r.status, r.body)
	}
	if tr := e.rec.wait(t, 1)[0]; !strings.Contains(tr.Error, "names none") || tr.Model != "" {
		t.Errorf("trace of a request without a model: %q %q", tr.Error, tr.Model)
	}
}

// A key without a list is not affected; clearing a key's list opens it.
func TestModelAllowListEmptyMeansAll(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin")
	if r := e.do("POST", "/p/v1/batches", bearer(key), `{"input_file_id":"file-1"}`); r.status == 403 {
		t.Fatalf("a key without a list: %d %s", r.status, r.body)
	}
	ks, _, _ := e.st.Keys(store.KeyFilter{})
	if _, err := e.st.UpdateKey(ks[0].ID, store.KeyPatch{Models: &[]string{"o4-*"}}); err != nil {
		t.Fatal(err)
	}
	e.reload()
	if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 403 {
		t.Fatalf("after setting a list: %d", r.status)
	}
	if _, err := e.st.UpdateKey(ks[0].ID, store.KeyPatch{Models: &[]string{}}); err != nil {
		t.Fatal(err)
	}
	e.reload()
	if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 200 {
		t.Fatalf("after clearing the list: %d %s", r.status, r.body)
	}
}

// GET …/models through a key with a list answers only the allowed models,
// every other member as the upstream sent it.
func TestModelListFiltered(t *testing.T) {
	cases := []struct {
		typ, path string
		auth      func(string) map[string]string
		member    string // the list
		idKey     string
		models    []string
		want      []string
		kept      []string // other members, unchanged
	}{
		{"openai", "/v1/models", bearer, "data", "id", []string{"gpt-4o*", "o4-mini"}, []string{"gpt-4o-mini", "gpt-4o", "o4-mini"}, []string{"object"}},
		{"anthropic", "/v1/models", xAPIKey, "data", "id", []string{"claude-*-4-5"}, []string{"claude-sonnet-4-5", "claude-haiku-4-5"}, []string{"has_more", "first_id", "last_id"}},
		{"gemini", "/v1beta/models", googKey, "models", "name", []string{"gemini-2.5-*", "!nothing"}, []string{"models/gemini-2.5-flash", "models/gemini-2.5-pro"}, nil},
		{"gemini", "/v1beta/models/", googKey, "models", "name", []string{"gemini-embedding-001"}, []string{"models/gemini-embedding-001"}, nil},
	}
	for _, c := range cases {
		t.Run(c.typ+c.path, func(t *testing.T) {
			e := newEnv(t)
			key, _ := e.setup(c.typ, 1, "round_robin", withModels(c.models...))
			r := e.do("GET", "/p"+c.path, c.auth(key), "")
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, r.body)
			}
			var items []map[string]any
			_ = json.Unmarshal(got[c.member], &items)
			var ids []string
			for _, it := range items {
				ids = append(ids, it[c.idKey].(string))
			}
			if !slices.Equal(ids, c.want) {
				t.Errorf("listed %q, want %q", ids, c.want)
			}
			// The same list straight from the fake: other members as they were.
			hdr := c.auth("sk-0-secret-value")
			if c.typ == "anthropic" {
				hdr["anthropic-version"] = "2023-06-01"
			}
			var direct map[string]json.RawMessage
			_ = json.Unmarshal([]byte(e.direct("GET", c.path, hdr, "").body), &direct)
			for _, m := range c.kept {
				if string(got[m]) != string(direct[m]) || got[m] == nil {
					t.Errorf("member %s: %s, upstream sent %s", m, got[m], direct[m])
				}
			}
			if len(got) != len(direct) {
				t.Errorf("members %d, upstream sent %d", len(got), len(direct))
			}
			if n := r.header.Get("Content-Length"); n != fmt.Sprint(len(r.body)) {
				t.Errorf("Content-Length %s for %d bytes", n, len(r.body))
			}
		})
	}
	// Without a list the answer is the upstream's, byte for byte.
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin")
	if r, d := e.do("GET", "/p/v1/models", bearer(key), ""), e.direct("GET", "/v1/models", bearer("sk-0-secret-value"), ""); r.body != d.body {
		t.Errorf("unfiltered list differs:\n%s\n%s", r.body, d.body)
	}
}

// A list that cannot be filtered is not passed on whole.
func TestModelListUnfilterable(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"too large", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"data":[`)
			for i := range 200000 {
				fmt.Fprintf(w, `{"id":"model-%08d","object":"model","owned_by":"someone"},`, i)
			}
			fmt.Fprint(w, `{"id":"last"}]}`)
		}, "larger than 4 MiB"},
		{"too large, length known", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(5<<20))
			w.Write(make([]byte, 1024))
		}, "larger than 4 MiB"},
		{"not JSON", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<html>gpt-4o-mini, o3</html>`)
		}, `not a JSON object with a \"data\" or \"models\" list`},
		{"another shape", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, `{"object":"list","items":[{"id":"o3"}]}`)
		}, `not a JSON object with a \"data\" or \"models\" list`},
		{"compressed", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			fmt.Fprint(w, "\x1f\x8b\x08\x00")
		}, `came compressed (\"gzip\")`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int32
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/models" {
					fmt.Fprint(w, `{"id":"chatcmpl-1","model":"gpt-4o-mini","choices":[]}`)
					return
				}
				calls.Add(1)
				c.handler(w, r)
			}))
			t.Cleanup(up.Close)
			// Room for one list at a time: a list that kept its memory
			// would make the second one fail with 503.
			e := newEnv(t, func(c *proxy.Config) { c.BodyMemory = 6 << 20 })
			e.provider("p", "openai", func(p *store.Provider) { p.BaseURL = up.URL })
			cred := e.cred("p", "sk-list-secret", 1)
			key := e.key(store.KeyInput{Provider: "p", Credentials: []string{cred}, Models: []string{"gpt-4o-mini"}})
			for range 2 {
				r := e.do("GET", "/p/v1/models", bearer(key), "")
				if r.status != 502 || !strings.Contains(r.body, c.want) || strings.Contains(r.body, "o3") {
					t.Fatalf("%d %s\nwant 502 naming %s", r.status, r.body, c.want)
				}
				if r.header.Get("Content-Encoding") != "" || r.header.Get("X-Aigw-Request-Id") == "" {
					t.Errorf("headers %v", r.header)
				}
			}
			if calls.Load() != 2 {
				t.Errorf("upstream called %d times", calls.Load())
			}
			// The proxy still serves: the held memory was given back.
			if r := e.do("POST", "/p/v1/chat/completions", bearer(key), `{"model":"gpt-4o-mini"}`); r.status != 200 {
				t.Errorf("after: %d %s", r.status, r.body)
			}
		})
	}
}

// BenchmarkProxyModelAllowList is BenchmarkProxy's aigw/chat for a key
// with an allow-list of six patterns, the request's model matched by the
// last: what a list costs per request (keys without one pay nothing).
func BenchmarkProxyModelAllowList(b *testing.B) {
	up := startBenchUpstream(b)
	e := newEnv(b, func(c *proxy.Config) { c.Recorder = discard{} })
	if _, err := e.st.CreateProvider(store.Provider{Name: "bench", Type: "openai", BaseURL: "http://" + up}); err != nil {
		b.Fatal(err)
	}
	c, err := e.st.CreateCredential(store.CredentialInput{Provider: "bench", Secret: "sk-bench-credential"})
	if err != nil {
		b.Fatal(err)
	}
	_, secret, err := e.st.CreateKey(store.KeyInput{Provider: "bench", Credentials: []string{c.ID},
		Models: []string{"gpt-5", "gpt-5-mini", "o4-*", "claude-*-4-5", "gemini-2.5-*", "gpt-4o-*"}})
	if err != nil {
		b.Fatal(err)
	}
	e.reload()
	b.Run("direct/chat", func(b *testing.B) { benchLoad(b, up, "/v1/chat/completions", "sk-bench", benchChat) })
	b.Run("aigw_models_key/chat", func(b *testing.B) { benchLoad(b, e.addr, "/bench/v1/chat/completions", secret, benchChat) })
}
