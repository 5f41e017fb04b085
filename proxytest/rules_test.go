package proxytest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aigw/aigw/proxytest"
)

// chat sends a chat completion with a bearer credential and returns the
// status, reading the body.
func chat(t *testing.T, s *proxytest.Server, cred string) int {
	t.Helper()
	resp := post(t, s.URL+"/v1/chat/completions", `{"model":"m"}`, "Authorization", "Bearer "+cred)
	readBody(t, resp)
	return resp.StatusCode
}

func statuses(t *testing.T, s *proxytest.Server, cred string, n int) []int {
	t.Helper()
	out := make([]int, n)
	for i := range out {
		out[i] = chat(t, s, cred)
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRuleForOneCredentialAlways(t *testing.T) {
	s := start(t)
	s.Program(proxytest.Rule{Credential: "sk-bad", Status: http.StatusUnauthorized})
	if got := statuses(t, s, "sk-bad", 3); !equalInts(got, []int{401, 401, 401}) {
		t.Errorf("sk-bad got %v, want 401 every time", got)
	}
	if got := chat(t, s, "sk-good"); got != 200 {
		t.Errorf("sk-good got %d, want 200", got)
	}
	if s.CountBy("sk-bad") != 3 || s.CountBy("sk-good") != 1 {
		t.Errorf("counts by credential: bad %d, good %d", s.CountBy("sk-bad"), s.CountBy("sk-good"))
	}
}

func TestRuleTimes(t *testing.T) {
	s := start(t)
	s.Program(proxytest.Rule{Status: http.StatusServiceUnavailable, Times: 2})
	got := []int{chat(t, s, "sk-a"), chat(t, s, "sk-b"), chat(t, s, "sk-a")}
	if !equalInts(got, []int{503, 503, 200}) {
		t.Errorf("got %v, want the next 2 requests of any credential to fail", got)
	}
}

// Rules are tried in order; a rule whose uses are spent is skipped.
func TestRuleOrder(t *testing.T) {
	s := start(t)
	s.Program(
		proxytest.Rule{Credential: "sk-a", Status: http.StatusForbidden, Times: 1},
		proxytest.Rule{Status: http.StatusInternalServerError, Times: 1},
		proxytest.Rule{Status: http.StatusTooManyRequests},
	)
	got := []int{chat(t, s, "sk-a"), chat(t, s, "sk-a"), chat(t, s, "sk-a"), chat(t, s, "sk-b")}
	if !equalInts(got, []int{403, 500, 429, 429}) {
		t.Errorf("got %v, want 403, 500, then 429 for ever", got)
	}
	s.ClearRules()
	if got := chat(t, s, "sk-a"); got != 200 {
		t.Errorf("after ClearRules: %d, want 200", got)
	}
}

func TestRulePath(t *testing.T) {
	s := start(t)
	s.Program(proxytest.Rule{Path: ":streamGenerateContent", Status: http.StatusBadGateway})
	gen := post(t, s.URL+"/v1beta/models/g:generateContent", `{}`, geminiHeaders...)
	stream := post(t, s.URL+"/v1beta/models/g:streamGenerateContent?alt=sse", `{}`, geminiHeaders...)
	readBody(t, gen)
	var ge geminiErrorBody
	decode(t, stream, http.StatusBadGateway, &ge)
	if gen.StatusCode != 200 || ge.Error.Code != 502 || ge.Error.Status != "UNAVAILABLE" {
		t.Errorf("generateContent %d, stream %d %+v: only the stream path should fail", gen.StatusCode, stream.StatusCode, ge)
	}
}

// A programmed status comes in each provider's error shape, with
// Retry-After when asked.
func TestRuleStatusShapesAndRetryAfter(t *testing.T) {
	s := start(t)
	s.Program(proxytest.Rule{Status: http.StatusTooManyRequests, RetryAfter: "2"})

	resp := post(t, s.URL+"/v1/chat/completions", `{}`)
	var oa openAIErrorBody
	decode(t, resp, http.StatusTooManyRequests, &oa)
	if resp.Header.Get("Retry-After") != "2" || oa.Error.Code == nil || *oa.Error.Code != "rate_limit_exceeded" || oa.Error.Message == "" {
		t.Errorf("OpenAI 429: Retry-After %q, body %+v", resp.Header.Get("Retry-After"), oa)
	}

	resp = post(t, s.URL+"/v1/messages", `{}`, anthropicHeaders...)
	var an anthropicErrorBody
	decode(t, resp, http.StatusTooManyRequests, &an)
	if resp.Header.Get("Retry-After") != "2" || an.Type != "error" || an.Error.Type != "rate_limit_error" {
		t.Errorf("Anthropic 429: Retry-After %q, body %+v", resp.Header.Get("Retry-After"), an)
	}

	resp = post(t, s.URL+"/v1beta/models/g:generateContent", `{}`, geminiHeaders...)
	var ge geminiErrorBody
	decode(t, resp, http.StatusTooManyRequests, &ge)
	if resp.Header.Get("Retry-After") != "2" || ge.Error.Code != 429 || ge.Error.Status != "RESOURCE_EXHAUSTED" {
		t.Errorf("Gemini 429: Retry-After %q, body %+v", resp.Header.Get("Retry-After"), ge)
	}

	s.ClearRules()
	s.Program(proxytest.Rule{Status: 529, Message: "busy now", Times: 1})
	decode(t, post(t, s.URL+"/v1/messages", `{}`, anthropicHeaders...), 529, &an)
	if an.Error.Type != "overloaded_error" || an.Error.Message != "busy now" {
		t.Errorf("Anthropic 529 = %+v, want overloaded_error with the programmed message", an)
	}

	s.Program(proxytest.Rule{Status: http.StatusBadGateway, Body: "<html>bad gateway</html>", Times: 1})
	resp = post(t, s.URL+"/v1/chat/completions", `{}`)
	if b := readBody(t, resp); resp.StatusCode != 502 || string(b) != "<html>bad gateway</html>" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("raw body rule: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
}

// Headers go on whatever the answer is: a normal one, a streamed one, a
// programmed status; never on an interim answer.
func TestRuleHeaders(t *testing.T) {
	s := start(t)
	rl := map[string]string{"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": "2026-03-10T12:00:01Z"}
	s.Program(
		proxytest.Rule{Credential: "sk-a", Headers: rl, Times: 1},
		proxytest.Rule{Credential: "sk-a", Headers: rl, Status: http.StatusTooManyRequests, Times: 1},
	)
	for i, want := range []int{200, 429, 200} {
		resp := post(t, s.URL+"/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			append([]string{"x-api-key", "sk-a"}, anthropicHeaders[2:]...)...)
		readBody(t, resp)
		got := resp.Header.Get("Anthropic-Ratelimit-Requests-Remaining")
		if resp.StatusCode != want || (i < 2) != (got == "0") {
			t.Errorf("answer %d: %d, remaining header %q; want %d with the header only while the rules last", i, resp.StatusCode, got, want)
		}
	}
	resp := post(t, s.URL+"/v1/chat/completions", `{"model":"m"}`, "Authorization", "Bearer sk-b")
	readBody(t, resp)
	if resp.Header.Get("Anthropic-Ratelimit-Requests-Reset") != "" {
		t.Error("another credential's answer carries the rule's headers")
	}
}

func TestRuleHeaderDelay(t *testing.T) {
	s := start(t)
	const delay = 300 * time.Millisecond
	s.Program(proxytest.Rule{HeaderDelay: delay, Times: 1})
	begin := time.Now()
	if got := chat(t, s, "sk-a"); got != 200 {
		t.Fatalf("status %d", got)
	}
	if waited := time.Since(begin); waited < delay {
		t.Errorf("response after %v, want no sooner than %v", waited, delay)
	}

	// A client with a shorter first-byte timeout gives up, and the fake
	// notices that its client went away.
	s.Program(proxytest.Rule{HeaderDelay: 5 * time.Second, Times: 1})
	tr := &http.Transport{ResponseHeaderTimeout: 100 * time.Millisecond}
	defer tr.CloseIdleConnections()
	_, err := call(t, testCtx(t), &http.Client{Transport: tr}, http.MethodPost, s.URL+"/v1/chat/completions", `{}`, "Authorization", "Bearer sk-a")
	if err == nil || !strings.Contains(err.Error(), "timeout awaiting response headers") {
		t.Fatalf("err = %v, want a response header timeout", err)
	}
	if err := s.WaitCancelled(testCtx(t), 1); err != nil {
		t.Fatalf("the fake did not count the client that gave up: %v", err)
	}
}

func TestRuleChunkDelay(t *testing.T) {
	s := start(t)
	const delay = 60 * time.Millisecond
	s.SetChunks(3)
	s.Program(proxytest.Rule{ChunkDelay: delay})
	begin := time.Now()
	evs := readSSE(t, post(t, s.URL+"/v1/chat/completions", `{"stream":true}`))
	// 6 events (role, 3 content, finish, [DONE]) with the delay between each.
	if len(evs) != 6 {
		t.Fatalf("%d events, want 6", len(evs))
	}
	if took, least := time.Since(begin), 5*delay; took < least {
		t.Errorf("stream took %v, want at least %v (5 gaps of %v)", took, least, delay)
	}
}

// A chunk delay longer than a client's idle timeout trips it: the first
// event arrives, the next does not in time.
func TestRuleChunkDelayTripsIdleTimeout(t *testing.T) {
	s := start(t)
	s.Program(proxytest.Rule{ChunkDelay: 5 * time.Second})
	resp := post(t, s.URL+"/v1/messages", `{"stream":true}`, anthropicHeaders...)
	r := newSSEReader(resp.Body)
	first, err := r.next()
	if err != nil || first.Event != "message_start" {
		t.Fatalf("first event %+v, %v", first, err)
	}
	next := make(chan error, 1)
	go func() { _, err := r.next(); next <- err }()
	select {
	case err := <-next:
		t.Fatalf("second event arrived during the delay (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	resp.Body.Close() // the client gives up
	<-next
	if err := s.WaitCancelled(testCtx(t), 1); err != nil {
		t.Fatalf("the fake did not count the abandoned stream: %v", err)
	}
}

func TestRuleResetBeforeHeaders(t *testing.T) {
	s := start(t)
	s.Program(proxytest.Rule{Credential: "sk-a", Reset: true})
	_, err := call(t, testCtx(t), newClient(t), http.MethodPost, s.URL+"/v1/chat/completions", `{}`, "Authorization", "Bearer sk-a")
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("err = %v, want a connection reset", err)
	}
	rec, _ := s.Last()
	if rec.Credential != "sk-a" || rec.Status != 0 {
		t.Errorf("recorded %q status %d, want sk-a with no status", rec.Credential, rec.Status)
	}
	if s.Cancelled() != 0 {
		t.Errorf("Cancelled = %d: a reset by the fake is not a client leaving", s.Cancelled())
	}
	if got := chat(t, s, "sk-b"); got != 200 {
		t.Errorf("another credential got %d, want 200", got)
	}
}

func TestRuleResetAfterChunks(t *testing.T) {
	cases := []struct {
		name, path, body string
		headers          []string
		after            int
	}{
		{"openai chat", "/v1/chat/completions", `{"stream":true}`, []string{"Authorization", "Bearer sk-a"}, 3},
		{"anthropic", "/v1/messages", `{"stream":true}`, anthropicHeaders, 2},
		{"gemini sse", "/v1beta/models/g:streamGenerateContent?alt=sse", `{}`, geminiHeaders, 1},
		{"beyond the end", "/v1/chat/completions", `{"stream":true}`, []string{"Authorization", "Bearer sk-a"}, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := start(t)
			s.Program(proxytest.Rule{ResetAfterChunks: c.after})
			resp := post(t, s.URL+c.path, c.body, c.headers...)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			evs, err := readAllEvents(resp)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("stream ended after %d events with %v, want a connection reset", len(evs), err)
			}
			want := c.after
			if c.after == 100 {
				want = 1 + proxytest.DefaultChunks + 2 // the whole stream, then the reset
			}
			if len(evs) != want {
				t.Errorf("%d events before the reset, want %d (err %v)", len(evs), want, err)
			}
			if s.Cancelled() != 0 {
				t.Errorf("Cancelled = %d after the fake's own reset", s.Cancelled())
			}
		})
	}
}

// A non-streamed answer is cut in the middle of its body.
func TestRuleResetAfterChunksCutsJSONBody(t *testing.T) {
	s := start(t)
	s.Program(proxytest.Rule{ResetAfterChunks: 1})
	resp := post(t, s.URL+"/v1/chat/completions", `{}`)
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("body read %q, %v; want a connection reset", b, err)
	}
	if resp.ContentLength <= 0 || int64(len(b)) >= resp.ContentLength {
		t.Errorf("read %d of %d bytes, want a part", len(b), resp.ContentLength)
	}
}

func TestRuleGarbage(t *testing.T) {
	s := start(t)
	s.Program(proxytest.Rule{Garbage: true})

	resp := post(t, s.URL+"/v1/chat/completions", `{}`)
	b := readBody(t, resp)
	if resp.StatusCode != 200 || json.Valid(b) {
		t.Errorf("plain answer %d %q, want 200 with a body that is not JSON", resp.StatusCode, b)
	}

	resp = post(t, s.URL+"/v1/chat/completions", `{"stream":true}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream answer %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	evs, err := readAllEvents(resp)
	if len(evs) == 0 || json.Valid([]byte(evs[0].Data)) {
		t.Errorf("first event %+v, want data that is not JSON", evs)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("stream end: %v, want an event cut short", err)
	}
	for _, ev := range evs {
		if ev.Data == "[DONE]" {
			t.Error("a garbage stream ended with [DONE]")
		}
	}

	resp = post(t, s.URL+"/v1beta/models/g:streamGenerateContent", `{}`, geminiHeaders...)
	if b := readBody(t, resp); json.Valid(b) || !strings.HasPrefix(string(b), "[") {
		t.Errorf("gemini array answer %q, want a broken JSON array", b)
	}
}

func TestHoldAndRelease(t *testing.T) {
	s := start(t)
	h := s.Hold(proxytest.Rule{Credential: "sk-a", HoldAfterChunks: 1})
	resp := post(t, s.URL+"/v1/messages", `{"stream":true}`, "x-api-key", "sk-a", "anthropic-version", "2023-06-01")
	r := newSSEReader(resp.Body)

	first, err := r.next()
	if err != nil || first.Event != "message_start" {
		t.Fatalf("first event %+v, %v: it must reach the client while the upstream is held", first, err)
	}
	select {
	case <-h.Reached():
	case <-time.After(testTimeout):
		t.Fatal("the fake never reported the hold")
	}
	next := make(chan sseEvent, 1)
	go func() {
		ev, _ := r.next()
		next <- ev
	}()
	select {
	case ev := <-next:
		t.Fatalf("event %q arrived before the release", ev.Event)
	case <-time.After(200 * time.Millisecond):
	}

	h.Release()
	select {
	case ev := <-next:
		if ev.Event != "content_block_start" {
			t.Errorf("after release got %q, want content_block_start", ev.Event)
		}
	case <-time.After(testTimeout):
		t.Fatal("nothing arrived after the release")
	}
	rest, err := r.rest()
	if err != nil || len(rest) == 0 || rest[len(rest)-1].Event != "message_stop" {
		t.Errorf("rest of the stream: %d events, %v", len(rest), err)
	}

	// Released for good: later requests are not held.
	if got := readSSE(t, post(t, s.URL+"/v1/messages", `{"stream":true}`, "x-api-key", "sk-a", "anthropic-version", "2023-06-01")); len(got) != 6+proxytest.DefaultChunks {
		t.Errorf("after release: %d events", len(got))
	}
}

// With HoldAfterChunks 0 a plain answer has its status and headers but no
// body until the release.
func TestHoldBeforeBody(t *testing.T) {
	s := start(t)
	h := s.Hold(proxytest.Rule{})
	resp := post(t, s.URL+"/v1/chat/completions", `{"model":"m"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	<-h.Reached()
	h.Release()
	var got chatCompletion
	decode(t, resp, http.StatusOK, &got)
	if got.Model != "m" {
		t.Errorf("body after release: %+v", got)
	}
}

// When the client hangs up on a held stream, the fake counts it.
func TestCancelledCountsClientsThatLeave(t *testing.T) {
	s := start(t)
	readSSE(t, post(t, s.URL+"/v1/chat/completions", `{"stream":true}`))
	if s.Cancelled() != 0 {
		t.Fatalf("Cancelled = %d after a complete stream", s.Cancelled())
	}

	h := s.Hold(proxytest.Rule{HoldAfterChunks: 2})
	ctx, cancel := context.WithCancel(testCtx(t))
	resp, err := call(t, ctx, newClient(t), http.MethodPost, s.URL+"/v1/chat/completions", `{"stream":true}`, "Authorization", "Bearer sk-a")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-h.Reached()
	cancel()
	if err := s.WaitCancelled(testCtx(t), 1); err != nil {
		t.Fatalf("the fake did not count the stream whose client left: %v", err)
	}
	if s.Cancelled() != 1 {
		t.Errorf("Cancelled = %d, want 1", s.Cancelled())
	}
	if rec, _ := s.Last(); rec.Status != 200 {
		t.Errorf("recorded status %d, want 200 (headers were sent)", rec.Status)
	}
}

// Rules are shared by concurrent requests: exactly Times of them fail.
func TestRulesUnderConcurrency(t *testing.T) {
	s := start(t)
	s.Program(proxytest.Rule{Status: http.StatusServiceUnavailable, Times: 5})
	const n = 20
	var wg sync.WaitGroup
	codes := make(chan int, n)
	client := newClient(t)
	for i := range n {
		wg.Go(func() {
			resp, err := call(t, testCtx(t), client, http.MethodPost, s.URL+"/v1/chat/completions", `{}`, "Authorization", "Bearer sk-"+strconv.Itoa(i%3))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	failed := 0
	for c := range codes {
		if c == 503 {
			failed++
		}
	}
	if failed != 5 || s.Count() != n {
		t.Errorf("%d of %d requests failed, want 5 (count %d)", failed, n, s.Count())
	}
}
