package proxy_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxy"
	"github.com/aigw/aigw/store"
)

// Every API the three SDKs use goes through unchanged, with the operator's
// credential in place of the gateway key.
func TestForwardsEveryAPIUnchanged(t *testing.T) {
	cases := []struct {
		name, typ, method, path, body string
		clientAuth                    func(key string) map[string]string
		upstreamAuth                  string // header the credential must arrive in
		stream                        bool
	}{
		{"openai chat", "openai", "POST", "/v1/chat/completions", chatBody, bearer, "Authorization", false},
		{"openai chat stream", "openai", "POST", "/v1/chat/completions", chatStreamBody, bearer, "Authorization", true},
		{"openai responses", "openai", "POST", "/v1/responses", `{"model":"gpt-4o-mini","input":"hi"}`, bearer, "Authorization", false},
		{"openai responses stream", "openai", "POST", "/v1/responses", `{"model":"gpt-4o-mini","input":"hi","stream":true}`, bearer, "Authorization", true},
		{"openai embeddings", "openai", "POST", "/v1/embeddings", `{"model":"text-embedding-3-small","input":"hi"}`, bearer, "Authorization", false},
		{"openai models", "openai", "GET", "/v1/models", "", bearer, "Authorization", false},
		{"anthropic messages", "anthropic", "POST", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, xAPIKey, "X-Api-Key", false},
		{"anthropic messages stream", "anthropic", "POST", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, xAPIKey, "X-Api-Key", true},
		{"anthropic count_tokens", "anthropic", "POST", "/v1/messages/count_tokens", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`, xAPIKey, "X-Api-Key", false},
		{"gemini generate", "gemini", "POST", "/v1beta/models/gemini-2.5-flash:generateContent", `{"contents":[{"parts":[{"text":"hi"}]}]}`, googKey, "X-Goog-Api-Key", false},
		{"gemini stream sse", "gemini", "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", `{"contents":[{"parts":[{"text":"hi"}]}]}`, googKey, "X-Goog-Api-Key", true},
		{"gemini stream array", "gemini", "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", `{"contents":[{"parts":[{"text":"hi"}]}]}`, googKey, "X-Goog-Api-Key", true},
		{"gemini key in query", "gemini", "POST", "/v1beta/models/gemini-2.5-flash:generateContent?key=", `{"contents":[{"parts":[{"text":"hi"}]}]}`, nil, "X-Goog-Api-Key", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			key, _ := e.setup(c.typ, 1, "round_robin")
			path, hdr := c.path, map[string]string{}
			if c.clientAuth != nil {
				hdr = c.clientAuth(key)
			} else {
				path += key
			}
			got := e.do(c.method, "/p"+path, hdr, c.body)
			if got.status != 200 {
				t.Fatalf("status %d: %s", got.status, got.body)
			}
			seen, _ := e.fake.Last()
			if seen.Credential != "sk-0-secret-value" {
				t.Fatalf("upstream saw credential %q, want the operator's", seen.Credential)
			}
			if v := seen.Header.Get(c.upstreamAuth); !strings.Contains(v, "sk-0-secret-value") {
				t.Errorf("upstream %s = %q", c.upstreamAuth, v)
			}
			for _, h := range []string{"Authorization", "X-Api-Key", "X-Goog-Api-Key"} {
				if strings.Contains(seen.Header.Get(h), key) {
					t.Errorf("the gateway key reached the upstream in %s", h)
				}
			}
			if strings.Contains(seen.RawQuery, "aigw_") || strings.Contains(seen.RawQuery, "key=") {
				t.Errorf("the key query parameter reached the upstream: %q", seen.RawQuery)
			}
			if want := strings.SplitN(c.path, "?", 2)[0]; seen.Path != want {
				t.Errorf("upstream path %q, want %q", seen.Path, want)
			}
			if strings.Contains(c.path, "alt=sse") && !strings.Contains(seen.RawQuery, "alt=sse") {
				t.Errorf("query lost: %q", seen.RawQuery)
			}
			if got.header.Get("x-aigw-request-id") == "" || got.header.Get("x-aigw-overhead-ms") == "" {
				t.Errorf("missing x-aigw headers: %v", got.header)
			}
			if c.stream && !strings.Contains(got.header.Get("Content-Type"), "event-stream") && !strings.Contains(c.path, "streamGenerateContent") {
				t.Errorf("stream content type %q", got.header.Get("Content-Type"))
			}
			// The body is the upstream's, byte for byte, apart from ids the fake makes up per request.
			if c.method == "POST" && !c.stream {
				if !json.Valid([]byte(got.body)) {
					t.Fatalf("body is not JSON: %s", got.body)
				}
			}
			traces := e.rec.wait(t, 1)
			if tr := traces[0]; tr.Status != 200 || tr.CredentialID == "" || tr.Provider != "p" || len(tr.Attempts) != 1 {
				t.Errorf("trace %+v", tr)
			}
		})
	}
}

func xAPIKey(k string) map[string]string { return map[string]string{"x-api-key": k} }
func googKey(k string) map[string]string { return map[string]string{"x-goog-api-key": k} }

// A streamed response reaches the client exactly as the upstream sent it.
func TestStreamBodyIdenticalToDirect(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("anthropic", 1, "round_robin")
	body := `{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	via := e.do("POST", "/p/v1/messages", xAPIKey(key), body)
	direct := e.direct("POST", "/v1/messages", map[string]string{"x-api-key": "sk-0-secret-value", "anthropic-version": "2023-06-01"}, body)
	norm := func(s string) string { // message ids differ per request
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if i := strings.Index(l, `"id":"`); i >= 0 {
				j := strings.Index(l[i+6:], `"`)
				l = l[:i+6] + l[i+6+j:]
			}
			out = append(out, l)
		}
		return strings.Join(out, "\n")
	}
	if norm(via.body) != norm(direct.body) {
		t.Fatalf("stream through aigw differs from direct:\n%s\n---\n%s", via.body, direct.body)
	}
	if !strings.Contains(via.body, "event: message_stop") {
		t.Fatalf("stream incomplete: %s", via.body)
	}
}

func TestRewritesHeaders(t *testing.T) {
	e := newEnv(t)
	e.provider("claude", "anthropic")
	e.provider("custom", "openai-compatible", func(p *store.Provider) {
		p.AuthHeaders = []string{"api-key: {key}", "X-Org: org-{key}-x"}
		p.Headers = []string{"X-Extra: yes"}
	})
	c1 := e.cred("claude", "sk-ant-credential-1", 1)
	c2 := e.cred("custom", "sk-custom-credential-2", 1)
	k1 := e.key(store.KeyInput{Provider: "claude", Credentials: []string{c1}})
	k2 := e.key(store.KeyInput{Provider: "custom", Credentials: []string{c2}})

	identity := map[string]string{
		"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7", "Forwarded": "for=203.0.113.7",
		"Via": "1.1 corp-proxy", "True-Client-IP": "203.0.113.7", "CF-Connecting-IP": "203.0.113.7",
		"Cookie": "session=abc", "X-Custom-Client": "kept",
	}
	hdr := map[string]string{"x-api-key": k1}
	for k, v := range identity {
		hdr[k] = v
	}
	body := `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	if r := e.do("POST", "/claude/v1/messages", hdr, body); r.status != 200 {
		t.Fatalf("anthropic via aigw: %d %s", r.status, r.body)
	}
	seen, _ := e.fake.Last()
	for k := range identity {
		if k == "X-Custom-Client" {
			continue
		}
		if v := seen.Header.Get(k); v != "" {
			t.Errorf("upstream received %s: %q (client identity must be hidden)", k, v)
		}
	}
	if seen.Header.Get("X-Custom-Client") != "kept" {
		t.Error("an ordinary client header was dropped")
	}
	if seen.Header.Get("Anthropic-Version") != "2023-06-01" {
		t.Errorf("anthropic-version not added: %q", seen.Header.Get("Anthropic-Version"))
	}
	if seen.Header.Get("X-Api-Key") != "sk-ant-credential-1" {
		t.Errorf("x-api-key upstream = %q", seen.Header.Get("X-Api-Key"))
	}

	// A version the client sets is kept.
	hdr = map[string]string{"x-api-key": k1, "anthropic-version": "2024-01-01"}
	e.do("POST", "/claude/v1/messages", hdr, body)
	if seen, _ := e.fake.Last(); seen.Header.Get("Anthropic-Version") != "2024-01-01" {
		t.Errorf("client's anthropic-version replaced: %q", seen.Header.Get("Anthropic-Version"))
	}

	// Custom auth templates and extra headers.
	e.do("POST", "/custom/v1/chat/completions", bearer(k2), chatBody)
	seen, _ = e.fake.Last()
	if seen.Header.Get("Api-Key") != "sk-custom-credential-2" || seen.Header.Get("X-Org") != "org-sk-custom-credential-2-x" {
		t.Errorf("custom auth headers: api-key=%q x-org=%q", seen.Header.Get("Api-Key"), seen.Header.Get("X-Org"))
	}
	if seen.Header.Get("Authorization") != "" {
		t.Errorf("client Authorization forwarded: %q", seen.Header.Get("Authorization"))
	}
	if seen.Header.Get("X-Extra") != "yes" {
		t.Error("provider extra header missing")
	}
}

func TestBadKeysNeverReachUpstream(t *testing.T) {
	e := newEnv(t)
	key, creds := e.setup("openai", 1, "round_robin")
	e.provider("other", "openai")
	oc := e.cred("other", "sk-other-credential", 1)
	otherKey := e.key(store.KeyInput{Provider: "other", Credentials: []string{oc}})
	revoked, _, err := e.st.CreateKey(store.KeyInput{Provider: "p", Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	revokedSecret := ""
	{
		k, s, _ := e.st.CreateKey(store.KeyInput{Provider: "p", Credentials: creds})
		revoked, revokedSecret = k, s
		if _, err := e.st.RevokeKey(k.ID); err != nil {
			t.Fatal(err)
		}
	}
	_ = revoked
	e.reload()
	cases := []struct {
		name string
		hdr  map[string]string
		want string
	}{
		{"no key", nil, "missing gateway key"},
		{"unknown key", bearer("aigw_notarealkey000000000000000000000000000000"), "invalid gateway key"},
		{"provider key instead of gateway key", bearer("sk-0-secret-value"), "invalid gateway key"},
		// A key that exists but is not good here gets the same answer as an
		// unknown one: the client learns nothing about it (the trace does).
		{"revoked key", bearer(revokedSecret), "invalid gateway key"},
		{"key of another provider", bearer(otherKey), "invalid gateway key"},
	}
	for _, c := range cases {
		r := e.do("POST", "/p/v1/chat/completions", c.hdr, chatBody)
		if r.status != 401 {
			t.Errorf("%s: status %d", c.name, r.status)
		}
		var body struct {
			Error struct {
				Message string `json:"message"`
				Code    string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(r.body), &body); err != nil || !strings.Contains(body.Error.Message, c.want) {
			t.Errorf("%s: body %s (want OpenAI error shape naming %q)", c.name, r.body, c.want)
		}
		for _, leak := range []string{"revoked", "another provider", "not valid for", "expired"} {
			if strings.Contains(r.body, leak) {
				t.Errorf("%s: body %s tells the client %q", c.name, r.body, leak)
			}
		}
	}
	if n := e.fake.Count(); n != 0 {
		t.Fatalf("the upstream saw %d requests with bad keys", n)
	}
	// The operator sees why in the traces: the keys that exist by id, the
	// others by a preview that does not reveal them.
	traces := e.rec.wait(t, 5)
	want := []struct{ keyID, preview, err string }{
		{"", "", "aigw: missing gateway key (send it as the provider's API key)"},
		{"", "aigw_nota…", "aigw: invalid gateway key"},
		{"", "sk-… (17 chars)", "aigw: invalid gateway key"},
		{revoked.ID, revoked.Preview, "aigw: gateway key revoked"},
		{"", "", "aigw: gateway key is bound to another provider"},
	}
	for i, w := range want {
		tr := traces[i]
		if tr.Status != 401 || tr.Error != w.err || tr.Provider != "p" || (w.keyID != "" && tr.KeyID != w.keyID) ||
			(w.preview != "" && tr.KeyPreview != w.preview) || (w.keyID == "" && i < 3 && tr.KeyID != "") {
			t.Errorf("trace %d: status %d key %q preview %q error %q; want key %q preview %q error %q",
				i, tr.Status, tr.KeyID, tr.KeyPreview, tr.Error, w.keyID, w.preview, w.err)
		}
	}
	_ = key
}

func TestUnknownProviderIs404InTheSDKsShape(t *testing.T) {
	e := newEnv(t)
	e.setup("openai", 1, "round_robin")
	for _, c := range []struct {
		hdr   map[string]string
		check func(map[string]any) bool
	}{
		{bearer("x"), func(m map[string]any) bool { _, ok := m["error"].(map[string]any)["message"]; return ok }},
		{xAPIKey("x"), func(m map[string]any) bool { return m["type"] == "error" }},
		{googKey("x"), func(m map[string]any) bool { return m["error"].(map[string]any)["status"] == "NOT_FOUND" }},
	} {
		r := e.do("POST", "/nope/v1/chat/completions", c.hdr, chatBody)
		var m map[string]any
		if r.status != 404 || json.Unmarshal([]byte(r.body), &m) != nil || !c.check(m) {
			t.Errorf("unknown provider with %v: %d %s", c.hdr, r.status, r.body)
		}
		if r.header.Get("x-aigw-request-id") == "" {
			t.Error("404 without x-aigw-request-id")
		}
	}
}

// Answers, aigw's own errors included, are readable by an allowed origin
// only; requests without an Origin get no CORS headers.
func TestCORSOnAnswers(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.CORSOrigins = []string{"https://app.example.com"} })
	key, _ := e.setup("openai", 1, "round_robin")
	app := map[string]string{"Origin": "https://app.example.com"}
	other := map[string]string{"Origin": "https://evil.example.com"}
	withKey := func(h map[string]string) map[string]string {
		out := map[string]string{"Authorization": "Bearer " + key}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	for _, c := range []struct {
		name   string
		path   string
		header map[string]string
		status int
		allow  string
	}{
		{"answer, allowed origin", "/p/v1/chat/completions", withKey(app), 200, "https://app.example.com"},
		{"answer, other origin", "/p/v1/chat/completions", withKey(other), 200, ""},
		{"answer, no origin", "/p/v1/chat/completions", withKey(nil), 200, ""},
		{"refused key, allowed origin", "/p/v1/chat/completions", app, 401, "https://app.example.com"},
		{"unknown provider, allowed origin", "/nope/v1/chat/completions", withKey(app), 404, "https://app.example.com"},
		{"refused key, other origin", "/p/v1/chat/completions", other, 401, ""},
	} {
		r := e.do("POST", c.path, c.header, chatBody)
		if r.status != c.status {
			t.Fatalf("%s: status %d %s", c.name, r.status, r.body)
		}
		if got := r.header.Values("Access-Control-Allow-Origin"); len(got) > 1 || r.header.Get("Access-Control-Allow-Origin") != c.allow {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", c.name, got, c.allow)
		}
		exposed := r.header.Get("Access-Control-Expose-Headers")
		if c.allow != "" && (!strings.Contains(exposed, "x-aigw-request-id") || r.header.Get("Vary") != "Origin") {
			t.Errorf("%s: Expose-Headers %q, Vary %q", c.name, exposed, r.header.Get("Vary"))
		}
		if c.allow == "" && exposed != "" {
			t.Errorf("%s: Expose-Headers %q for an origin that is not allowed", c.name, exposed)
		}
	}
}

func TestCORSPreflightNeedsNoKey(t *testing.T) {
	e := newEnv(t)
	e.setup("openai", 1, "round_robin")
	r := e.do("OPTIONS", "/p/v1/chat/completions", map[string]string{
		"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization, content-type",
	}, "")
	if r.status != http.StatusNoContent {
		t.Fatalf("preflight status %d", r.status)
	}
	if r.header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") ||
		r.header.Get("Access-Control-Allow-Headers") != "authorization, content-type" {
		t.Fatalf("preflight headers %v", r.header)
	}
	if e.fake.Count() != 0 {
		t.Fatal("preflight reached the upstream")
	}
}
