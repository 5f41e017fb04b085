package proxy_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/proxy"
	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
)

func credState(e *env, id string) string { return e.px.Health().Status(id).State }

// Each retry cause moves the request to another credential; the client
// sees one clean answer and the trace lists every attempt.
func TestRetriesOnAnotherCredential(t *testing.T) {
	cases := []struct {
		name      string
		rule      proxytest.Rule
		wantState string // of the failing credential afterwards
	}{
		{"503", proxytest.Rule{Status: 503}, "healthy"}, // one failure is below the threshold
		{"500", proxytest.Rule{Status: 500}, "healthy"},
		{"429 with Retry-After", proxytest.Rule{Status: 429, RetryAfter: "30"}, "cooling_down"},
		{"401 bad credential", proxytest.Rule{Status: 401}, "invalid"},
		{"403", proxytest.Rule{Status: 403}, "invalid"},
		{"connection reset", proxytest.Rule{Reset: true}, "healthy"},
		{"first-byte timeout", proxytest.Rule{HeaderDelay: 3 * time.Second}, "healthy"},
		{"garbage instead of HTTP", proxytest.Rule{Garbage: true}, "healthy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(cfg *proxy.Config) { cfg.FirstByteTimeout = 500 * time.Millisecond })
			key, creds := e.setup("openai", 2, "round_robin")
			rule := c.rule
			rule.Credential = "sk-0-secret-value"
			e.fake.Program(rule)
			for range 2 { // round robin: one of the two requests starts on the failing credential
				r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
				if c.name == "garbage instead of HTTP" && r.status == 200 && !strings.HasPrefix(r.body, "{") {
					t.Skip("the fake's garbage is a 200 with a non-JSON body: passed on, not retried")
				}
				if r.status != 200 {
					t.Fatalf("client saw %d: %s", r.status, r.body)
				}
			}
			traces := e.rec.wait(t, 2)
			var retried *store.Trace
			for _, tr := range traces {
				if len(tr.Attempts) == 2 {
					retried = tr
				}
			}
			if retried == nil {
				t.Fatalf("no trace with two attempts: %+v %+v", traces[0].Attempts, traces[1].Attempts)
			}
			if retried.Attempts[0].CredentialID != creds[0] || retried.Attempts[1].CredentialID != creds[1] ||
				retried.CredentialID != creds[1] || retried.Retries != 1 || retried.Attempts[0].Error == "" {
				t.Errorf("trace attempts %+v", retried.Attempts)
			}
			if got := credState(e, creds[0]); got != c.wantState {
				t.Errorf("failing credential is %s, want %s", got, c.wantState)
			}
		})
	}
}

func TestRejectedCredentialIsNotRetriedAndPoolReportsIt(t *testing.T) {
	e := newEnv(t)
	key, creds := e.setup("openai", 1, "round_robin")
	e.fake.Program(proxytest.Rule{Status: 401})
	r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	if r.status != 502 || !strings.Contains(r.body, "refused every credential") {
		t.Fatalf("all credentials refused: %d %s", r.status, r.body)
	}
	if n := e.fake.Count(); n != 1 {
		t.Errorf("an invalid credential was retried: %d upstream requests", n)
	}
	if credState(e, creds[0]) != "invalid" {
		t.Error("credential not marked invalid")
	}
}

func TestRetryBudgetAndFinalAnswer(t *testing.T) {
	e := newEnv(t)
	zero := 0
	key, _ := e.setup("openai", 3, "round_robin", func(in *store.KeyInput) { in.MaxRetries = &zero })
	e.fake.Program(proxytest.Rule{Status: 503, Message: "overloaded upstream"})
	r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	if r.status != 503 || !strings.Contains(r.body, "overloaded upstream") {
		t.Fatalf("with no retries the upstream's own 503 is passed on: %d %s", r.status, r.body)
	}
	if n := e.fake.Count(); n != 1 {
		t.Fatalf("max_retries 0 made %d upstream requests", n)
	}

	e2 := newEnv(t)
	key2, _ := e2.setup("openai", 3, "round_robin")
	e2.fake.Program(proxytest.Rule{Status: 503})
	r = e2.do("POST", "/p/v1/chat/completions", bearer(key2), chatBody)
	if r.status != 503 {
		t.Fatalf("all attempts failed: %d", r.status)
	}
	if n := e2.fake.Count(); n != 3 {
		t.Fatalf("default budget (2 retries) made %d upstream requests, want 3", n)
	}
	tr := e2.rec.wait(t, 1)[0]
	if len(tr.Attempts) != 3 || tr.Retries != 2 {
		t.Fatalf("trace attempts %d retries %d", len(tr.Attempts), tr.Retries)
	}
	seen := map[string]bool{}
	for _, a := range tr.Attempts {
		seen[a.CredentialID] = true
	}
	if len(seen) != 3 {
		t.Errorf("retries reused a credential while others were untried: %+v", tr.Attempts)
	}
}

func TestTimeoutsAnswer504(t *testing.T) {
	e := newEnv(t, func(cfg *proxy.Config) { cfg.FirstByteTimeout = 300 * time.Millisecond })
	one := 1
	key, _ := e.setup("openai", 2, "round_robin", func(in *store.KeyInput) { in.MaxRetries = &one })
	e.fake.Program(proxytest.Rule{HeaderDelay: 2 * time.Second})
	start := time.Now()
	r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	if r.status != 504 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	if d := time.Since(start); d > 1900*time.Millisecond {
		t.Errorf("two 300ms first-byte timeouts took %v", d)
	}
	// A key's own timeout wins over the configured one.
	e.fake.ClearRules()
	e.fake.Program(proxytest.Rule{HeaderDelay: 500 * time.Millisecond})
	slow := e.key(store.KeyInput{Provider: "p", Credentials: []string{e.rec.wait(t, 1)[0].Attempts[0].CredentialID}, Timeout: unitsDuration(2 * time.Second)})
	if r := e.do("POST", "/p/v1/chat/completions", bearer(slow), chatBody); r.status != 200 {
		t.Fatalf("key timeout 2s with a 500ms upstream: %d", r.status)
	}
}

// The first chunk reaches the client while the upstream is still holding
// the rest of the stream.
func TestStreamChunksArriveBeforeUpstreamFinishes(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin")
	hold := e.fake.Hold(proxytest.Rule{HoldAfterChunks: 1})
	defer hold.Release()
	resp := e.stream(t, "/p/v1/chat/completions", bearer(key), chatStreamBody)
	defer resp.Body.Close()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if !strings.HasPrefix(l, "data: {") {
			t.Fatalf("first line %q", l)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the first chunk did not reach the client while the upstream held the rest")
	}
	hold.Release()
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	if len(rest) == 0 || rest[len(rest)-2] != "data: [DONE]" && rest[len(rest)-1] != "data: [DONE]" {
		t.Fatalf("stream did not finish: %q", rest)
	}
}

// stream starts a request and returns the response with its body unread.
func (e *env) stream(t *testing.T, path string, hdr map[string]string, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.url+path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream status %d: %s", resp.StatusCode, b)
	}
	return resp
}

// A stream that breaks after bytes went out is not retried: the client's
// stream ends with an error and the credential's health drops.
func TestBrokenStreamIsNotRetriedAndBlamesCredential(t *testing.T) {
	e := newEnv(t, func(cfg *proxy.Config) { cfg.Health.FailureThreshold = 1 })
	key, creds := e.setup("openai", 2, "round_robin")
	e.fake.Program(proxytest.Rule{ResetAfterChunks: 2})
	resp := e.stream(t, "/p/v1/chat/completions", bearer(key), chatStreamBody)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatalf("the client's stream ended cleanly after an upstream reset: %q", b)
	}
	if !strings.Contains(string(b), "data: {") {
		t.Fatalf("no chunk arrived before the reset: %q", b)
	}
	if n := e.fake.Count(); n != 1 {
		t.Fatalf("a stream that had started was retried: %d upstream requests", n)
	}
	tr := e.rec.wait(t, 1)[0]
	if !strings.Contains(tr.Error, "stream broke") {
		t.Errorf("trace error %q", tr.Error)
	}
	blamed := 0
	for _, id := range creds {
		if credState(e, id) == "cooling_down" {
			blamed++
		}
	}
	if blamed != 1 {
		t.Errorf("the credential whose stream broke was not taken out (threshold 1): %d cooling", blamed)
	}
}

// A client that hangs up mid-stream cancels the upstream request and is
// not counted against the credential.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	e := newEnv(t, func(cfg *proxy.Config) { cfg.Health.FailureThreshold = 1 })
	key, creds := e.setup("openai", 1, "round_robin")
	e.fake.SetChunks(200)
	e.fake.Program(proxytest.Rule{ChunkDelay: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "POST", e.url+"/p/v1/chat/completions", strings.NewReader(chatStreamBody))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	wctx, wcancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer wcancel()
	if err := e.fake.WaitCancelled(wctx, 1); err != nil {
		t.Fatalf("the upstream request was not cancelled after the client left: %v", err)
	}
	tr := e.rec.wait(t, 1)[0]
	if !strings.Contains(tr.Error, "client went away") {
		t.Errorf("trace error %q", tr.Error)
	}
	if st := credState(e, creds[0]); st != "healthy" {
		t.Errorf("credential blamed for the client leaving: %s", st)
	}
}

func TestStreamIdleTimeoutEndsStream(t *testing.T) {
	e := newEnv(t, func(cfg *proxy.Config) { cfg.StreamIdle = 200 * time.Millisecond })
	key, _ := e.setup("openai", 1, "round_robin")
	e.fake.Program(proxytest.Rule{ChunkDelay: 1500 * time.Millisecond})
	resp := e.stream(t, "/p/v1/chat/completions", bearer(key), chatStreamBody)
	start := time.Now()
	_, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatal("a stream silent for longer than the idle timeout ended cleanly")
	}
	if d := time.Since(start); d > 1400*time.Millisecond {
		t.Errorf("idle timeout of 200ms took %v to end the stream", d)
	}
}

func TestDisabledCredentialNeverChosenAndOutPoolStillTries(t *testing.T) {
	e := newEnv(t)
	key, creds := e.setup("openai", 2, "round_robin")
	off := false
	if _, err := e.st.UpdateCredential(creds[0], store.CredentialPatch{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	e.reload()
	for range 6 {
		if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 200 {
			t.Fatal(r.status)
		}
	}
	if n := e.fake.CountBy("sk-0-secret-value"); n != 0 {
		t.Fatalf("disabled credential served %d requests", n)
	}
	if got := credState(e, creds[0]); got != "disabled" {
		t.Errorf("state %s", got)
	}

	// Every credential cooling down: the pool still tries the least-bad one.
	e2 := newEnv(t, func(cfg *proxy.Config) { cfg.Health.FailureThreshold = 1 })
	key2, creds2 := e2.setup("openai", 2, "round_robin")
	e2.fake.Program(proxytest.Rule{Status: 503, Times: 3})
	e2.do("POST", "/p/v1/chat/completions", bearer(key2), chatBody)
	for _, id := range creds2 {
		if s := credState(e2, id); s != "cooling_down" {
			t.Fatalf("setup: credential %s is %s", id, s)
		}
	}
	if r := e2.do("POST", "/p/v1/chat/completions", bearer(key2), chatBody); r.status != 200 {
		t.Fatalf("a pool with every credential cooling down failed closed: %d %s", r.status, r.body)
	}
}

var _ = scheduler.Healthy

// A Retry-After the upstream exaggerates beyond what a time can hold
// cools the credential down for a day, not until a moment in the past.
func TestHugeRetryAfterCoolsDownForADay(t *testing.T) {
	for _, v := range []string{"9000000000", "9300000000", "86401", "Fri, 31 Dec 9999 23:59:59 GMT"} {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t)
			key, creds := e.setup("openai", 1, "round_robin", func(in *store.KeyInput) { in.MaxRetries = ptr(0) })
			e.fake.Program(proxytest.Rule{Status: 429, RetryAfter: v})
			if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 429 {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			st := e.px.Health().Status(creds[0])
			if left := time.Until(st.Until); st.State != "cooling_down" || left < 23*time.Hour || left > 24*time.Hour {
				t.Fatalf("after Retry-After: %s the credential is %s until %v (in %v), want cooling down for a day", v, st.State, st.Until, left)
			}
		})
	}
}
