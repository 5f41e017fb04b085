package proxy_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigw/aigw/proxy"
	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/store"
)

func TestRequestsPerMinuteLimit(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin", func(in *store.KeyInput) { in.RPM = 3 })
	for i := range 3 {
		if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 200 {
			t.Fatalf("request %d within the limit: %d", i+1, r.status)
		}
	}
	r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	if r.status != 429 {
		t.Fatalf("4th request of an rpm-3 key: %d", r.status)
	}
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 120 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if !strings.Contains(r.body, "requests per minute") || !strings.Contains(r.body, `"code":"rate_limit_exceeded"`) {
		t.Errorf("429 body %s", r.body)
	}
	if n := e.fake.Count(); n != 3 {
		t.Errorf("the limited request reached the upstream: %d upstream requests", n)
	}
	if tr := e.rec.wait(t, 4)[3]; tr.Status != 429 || len(tr.Attempts) != 0 {
		t.Errorf("limited request's trace: status %d attempts %d", tr.Status, len(tr.Attempts))
	}
}

func TestConcurrencyLimit(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin", func(in *store.KeyInput) { in.MaxConcurrency = 1 })
	hold := e.fake.Hold(proxytest.Rule{HoldAfterChunks: 0, Times: 1})
	var wg sync.WaitGroup
	wg.Add(1)
	var first reply
	go func() {
		defer wg.Done()
		first = e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	}()
	select {
	case <-hold.Reached():
	case <-time.After(5 * time.Second):
		t.Fatal("first request never reached the upstream")
	}
	second := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	if second.status != 429 || second.header.Get("Retry-After") == "" || !strings.Contains(second.body, "concurrent") {
		t.Fatalf("second request while one is in flight: %d %s", second.status, second.body)
	}
	hold.Release()
	wg.Wait()
	if first.status != 200 {
		t.Fatalf("first request: %d", first.status)
	}
	// The slot is given back when the response is done.
	if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 200 {
		t.Fatalf("after the first finished: %d", r.status)
	}
}

func TestExpiredKeyIs401(t *testing.T) {
	e := newEnv(t)
	_, creds := e.setup("openai", 1, "round_robin")
	exp := time.Now().Add(300 * time.Millisecond)
	k := e.key(store.KeyInput{Provider: "p", Credentials: creds, ExpiresAt: &exp})
	if r := e.do("POST", "/p/v1/chat/completions", bearer(k), chatBody); r.status != 200 {
		t.Fatalf("before expiry: %d", r.status)
	}
	time.Sleep(time.Until(exp) + 50*time.Millisecond)
	r := e.do("POST", "/p/v1/chat/completions", bearer(k), chatBody)
	if r.status != 401 || !strings.Contains(r.body, "invalid gateway key") || strings.Contains(r.body, "expired") {
		t.Fatalf("after expiry: %d %s (want the generic message)", r.status, r.body)
	}
	if tr := e.rec.wait(t, 2)[1]; tr.Status != 401 || tr.Error != "aigw: gateway key expired" {
		t.Fatalf("trace after expiry: status %d error %q", tr.Status, tr.Error)
	}
	if e.fake.Count() != 1 {
		t.Fatal("an expired key reached the upstream")
	}
}

func TestBodyOverLimitIs413WithoutUpstream(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.MaxBodySize = 4096 })
	key, _ := e.setup("anthropic", 1, "round_robin")
	big := `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"` + strings.Repeat("x", 8192) + `"}]}`
	r := e.do("POST", "/p/v1/messages", xAPIKey(key), big)
	if r.status != 413 || !strings.Contains(r.body, `"type":"error"`) || !strings.Contains(r.body, "larger than") {
		t.Fatalf("oversized body: %d %s", r.status, r.body)
	}
	if e.fake.Count() != 0 {
		t.Fatal("the oversized body reached the upstream")
	}
}

// Path tricks cannot reach another provider with a key bound elsewhere,
// nor leave the provider's base path.
func TestPathTricks(t *testing.T) {
	e := newEnv(t)
	e.provider("a", "openai", func(p *store.Provider) { p.BaseURL = e.fake.URL + "/team-a" })
	e.provider("b", "openai", func(p *store.Provider) { p.BaseURL = e.fake.URL + "/team-b" })
	ca := e.cred("a", "sk-a-credential-secret", 1)
	ka := e.key(store.KeyInput{Provider: "a", Credentials: []string{ca}})
	for _, path := range []string{
		"/a/../b/v1/chat/completions",
		"/a/%2e%2e/b/v1/chat/completions",
		"/a%2F..%2Fb/v1/chat/completions",
		"/b/v1/chat/completions",
	} {
		r := e.do("POST", path, bearer(ka), chatBody)
		if r.status == 200 {
			seen, _ := e.fake.Last()
			if !strings.HasPrefix(seen.Path, "/team-a/") {
				t.Errorf("%s: a's key reached %s", path, seen.Path)
			}
			continue
		}
		if r.status != 401 && r.status != 404 {
			t.Errorf("%s: status %d", path, r.status)
		}
	}
	for _, path := range []string{"/a/../../v1/chat/completions", "/a/v1/../../../etc/passwd", "/a/%2e%2e/%2e%2e/x",
		"/a/%252e%252e/%252e%252e/x", "/a/%252e%252e/team-b/x", "/a/%252E%252E%252Fx", "/a/v1/%25%32%65%25%32%65/%25%32%65%25%32%65/x"} {
		e.do("POST", path, bearer(ka), chatBody)
	}
	for _, rq := range e.fake.Requests() {
		if !strings.HasPrefix(rq.Path, "/team-a/") {
			t.Errorf("a request left the provider's base path: %s", rq.Path)
		}
	}
}

// The client's path is decoded once, as any server would: what reaches the
// upstream is the path the client meant, escapes and all.
func TestPathDecodedOnce(t *testing.T) {
	e := newEnv(t)
	e.provider("a", "openai", func(p *store.Provider) { p.BaseURL = e.fake.URL + "/team%20a" })
	ka := e.key(store.KeyInput{Provider: "a", Credentials: []string{e.cred("a", "sk-a-credential-secret", 1)}})
	for path, want := range map[string]string{
		"/a/v1/files/a%2525b":       "/team a/v1/files/a%25b",
		"/a/v1/files/sp%20ace":      "/team a/v1/files/sp ace",
		"/a/v1/files/%252e%252e":    "/team a/v1/files/%2e%2e",
		"/a/v1/files/x%3Fy%23z":     "/team a/v1/files/x?y#z",
		"/a/v1/files/caf%C3%A9":     "/team a/v1/files/café",
		"/a/v1/models/g:generate!*": "/team a/v1/models/g:generate!*",
	} {
		e.do("GET", path+"?alt=sse&key=zz", bearer(ka), "")
		seen, ok := e.fake.Last()
		if !ok || seen.Path != want || seen.RawQuery != "alt=sse" {
			t.Errorf("%s: upstream saw path %q query %q, want %q and alt=sse", path, seen.Path, seen.RawQuery, want)
		}
	}
}

func TestStrategiesSpreadLoad(t *testing.T) {
	t.Run("round_robin", func(t *testing.T) {
		e := newEnv(t)
		key, _ := e.setup("openai", 3, "round_robin")
		for range 30 {
			e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
		}
		for i := range 3 {
			if n := e.fake.CountBy("sk-" + strconv.Itoa(i) + "-secret-value"); n != 10 {
				t.Errorf("credential %d served %d of 30", i, n)
			}
		}
	})
	t.Run("weighted", func(t *testing.T) {
		e := newEnv(t)
		e.provider("p", "openai")
		a := e.cred("p", "sk-light-credential", 1)
		b := e.cred("p", "sk-heavy-credential", 3)
		key := e.key(store.KeyInput{Provider: "p", Credentials: []string{a, b}, Strategy: "weighted"})
		for range 40 {
			e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
		}
		if l, h := e.fake.CountBy("sk-light-credential"), e.fake.CountBy("sk-heavy-credential"); l != 10 || h != 30 {
			t.Errorf("weights 1:3 over 40 requests gave %d:%d", l, h)
		}
	})
	t.Run("health_best", func(t *testing.T) {
		e := newEnv(t)
		key, _ := e.setup("openai", 2, "health_best")
		e.fake.Program(proxytest.Rule{Credential: "sk-0-secret-value", Status: 500, Times: 2})
		for range 20 {
			if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
		}
		// After its failures, the flaky credential's success rate trails:
		// the healthy one takes the traffic.
		if ok := e.fake.CountBy("sk-1-secret-value"); ok < 16 {
			t.Errorf("healthy credential served only %d of 20 requests", ok)
		}
	})
}

func TestEveryResponseCarriesRequestIDAndOverhead(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin")
	ids := map[string]bool{}
	for _, c := range []struct {
		path string
		hdr  map[string]string
	}{
		{"/p/v1/chat/completions", bearer(key)},
		{"/p/v1/chat/completions", nil},
		{"/nope/x", nil},
	} {
		r := e.do("POST", c.path, c.hdr, chatBody)
		id := r.header.Get("x-aigw-request-id")
		if id == "" || ids[id] {
			t.Errorf("%s: request id %q (missing or repeated)", c.path, id)
		}
		ids[id] = true
		if r.status == 200 {
			if v, err := strconv.ParseFloat(r.header.Get("x-aigw-overhead-ms"), 64); err != nil || v < 0 || v > 1000 {
				t.Errorf("overhead header %q", r.header.Get("x-aigw-overhead-ms"))
			}
		}
	}
}
