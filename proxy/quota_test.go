package proxy_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/aigw/aigw/proxytest"
)

const messagesBody = `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`

// A credential whose answer says a window is used up leaves rotation at
// once: the next requests all go to the other one, without a single 429
// upstream; at the window's reset it is back by itself.
func TestQuotaHeadersTakeACredentialOutUntilReset(t *testing.T) {
	cases := []struct {
		name, typ, path, body string
		auth                  func(string) map[string]string
		headers               func(reset time.Time) map[string]string
	}{
		{"anthropic requests window", "anthropic", "/p/v1/messages", messagesBody, xAPIKey, func(reset time.Time) map[string]string {
			return map[string]string{
				"anthropic-ratelimit-requests-limit":     "50",
				"anthropic-ratelimit-requests-remaining": "0",
				"anthropic-ratelimit-requests-reset":     reset.UTC().Format(time.RFC3339Nano),
			}
		}},
		{"anthropic subscription 5h window", "anthropic", "/p/v1/messages", messagesBody, xAPIKey, func(reset time.Time) map[string]string {
			// unix seconds: rounded up, so the reset is never before the test's
			return map[string]string{
				"anthropic-ratelimit-unified-status":         "allowed_warning",
				"anthropic-ratelimit-unified-5h-status":      "allowed_warning",
				"anthropic-ratelimit-unified-5h-utilization": "1.0",
				"anthropic-ratelimit-unified-5h-reset":       strconv.FormatInt(reset.Add(time.Second-1).Unix(), 10),
			}
		}},
		{"openai tokens window", "openai", "/p/v1/chat/completions", chatBody, bearer, func(reset time.Time) map[string]string {
			return map[string]string{
				"x-ratelimit-limit-tokens":     "30000",
				"x-ratelimit-remaining-tokens": "0",
				"x-ratelimit-reset-tokens":     time.Until(reset).Round(time.Millisecond).String(),
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			key, creds := e.setup(c.typ, 2, "round_robin")
			a := "sk-0-secret-value"
			reset := time.Now().Add(1500 * time.Millisecond)
			e.fake.Program(proxytest.Rule{Credential: a, Headers: c.headers(reset), Times: 1})
			for i := 0; e.fake.CountBy(a) == 0; i++ {
				if i == 2 {
					t.Fatal("round robin never reached the first credential")
				}
				if r := e.do("POST", c.path, c.auth(key), c.body); r.status != 200 {
					t.Fatalf("request %d: %d %s", i, r.status, r.body)
				}
			}
			st := e.px.Health().Status(creds[0])
			if st.State != "quota_exhausted" || st.Until.Before(reset.Add(-time.Millisecond)) || st.Reason == "" {
				t.Fatalf("after its answer said the window is used up: %+v", st)
			}
			sent := len(e.rec.wait(t, e.fake.Count()))
			for i := range 8 {
				if r := e.do("POST", c.path, c.auth(key), c.body); r.status != 200 {
					t.Fatalf("request %d while a is out: %d %s", i, r.status, r.body)
				}
			}
			traces := e.rec.wait(t, sent+8)
			out := 0
			for _, tr := range traces[sent:] {
				if tr.Time.Before(st.Until) {
					out++
					if tr.CredentialID != creds[1] || len(tr.Attempts) != 1 {
						t.Fatalf("request at %v, before a's reset at %v, went to %s (%d attempts)", tr.Time, st.Until, tr.CredentialID, len(tr.Attempts))
					}
				}
			}
			if out == 0 {
				t.Fatal("the machine is too slow: no request was sent before the reset") // 8 requests in 1.5 s
			}
			for _, rec := range e.fake.Requests() {
				if rec.Status != 200 {
					t.Fatalf("the upstream answered %d: aigw sent a request it knew would be refused", rec.Status)
				}
			}
			time.Sleep(time.Until(st.Until) + 50*time.Millisecond)
			for range 4 {
				if r := e.do("POST", c.path, c.auth(key), c.body); r.status != 200 {
					t.Fatalf("after the reset: %d %s", r.status, r.body)
				}
			}
			if n := e.fake.CountBy(a); n < 2 {
				t.Fatalf("a got no request after its window reset (%d in all)", n)
			}
			if st := e.px.Health().Status(creds[0]); st.State != "healthy" {
				t.Fatalf("after the reset: %+v", st)
			}
		})
	}
}

// health_best sends the traffic to the credential whose windows have the
// most room left.
func TestHealthBestFollowsTheRoomTheUpstreamAnnounces(t *testing.T) {
	e := newEnv(t)
	key, creds := e.setup("anthropic", 2, "health_best")
	a, b := "sk-0-secret-value", "sk-1-secret-value"
	room := func(remaining string) map[string]string {
		return map[string]string{
			"anthropic-ratelimit-tokens-limit":     "100000",
			"anthropic-ratelimit-tokens-remaining": remaining,
			"anthropic-ratelimit-tokens-reset":     time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		}
	}
	e.fake.Program(proxytest.Rule{Credential: a, Headers: room("10000")}, proxytest.Rule{Credential: b, Headers: room("90000")})
	for i := range 12 {
		if r := e.do("POST", "/p/v1/messages", xAPIKey(key), messagesBody); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	// Each is tried once before its room is known; then b takes all.
	if na, nb := e.fake.CountBy(a), e.fake.CountBy(b); na != 1 || nb != 11 {
		t.Fatalf("a (10%% left) got %d, b (90%% left) got %d; want 1 and 11", na, nb)
	}
	st := e.px.Health().Status(creds[1])
	if len(st.Quota) != 1 || st.Quota[0].Window != "tokens" || st.Quota[0].Remaining == nil || *st.Quota[0].Remaining != 90000 {
		t.Fatalf("b's quota windows: %+v", st.Quota)
	}
}

// Rate-limit headers with garbage values change nothing and fail nothing.
func TestGarbageQuotaHeadersAreIgnored(t *testing.T) {
	e := newEnv(t)
	key, creds := e.setup("anthropic", 1, "round_robin")
	e.fake.Program(proxytest.Rule{Headers: map[string]string{
		"anthropic-ratelimit-requests-limit":         "fifty",
		"anthropic-ratelimit-requests-remaining":     "0",
		"anthropic-ratelimit-requests-reset":         "when it is ready",
		"anthropic-ratelimit-tokens-remaining":       "-5",
		"anthropic-ratelimit-tokens-reset":           "2020-01-01T00:00:00Z",
		"anthropic-ratelimit-unified-5h-utilization": "NaN",
		"anthropic-ratelimit-unified-5h-reset":       "99999999999999999999999",
		"anthropic-ratelimit-unified-status":         "rejected",
		"x-ratelimit-remaining-requests":             "0",
		"x-ratelimit-reset-requests":                 "-3s",
	}})
	for i := range 3 {
		if r := e.do("POST", "/p/v1/messages", xAPIKey(key), messagesBody); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	if st := e.px.Health().Status(creds[0]); st.State != "healthy" || len(st.Quota) != 0 {
		t.Fatalf("garbage headers changed the credential: %+v", st)
	}
}

// A 429 whose headers say the subscription window is used up keeps the
// credential out until that window resets, not only for Retry-After: no
// trial request is spent on it in between.
func TestRejectedWindowOutlastsRetryAfter(t *testing.T) {
	e := newEnv(t)
	key, creds := e.setup("anthropic", 2, "round_robin")
	a := "sk-0-secret-value"
	reset := time.Now().Add(2500 * time.Millisecond)
	e.fake.Program(proxytest.Rule{Credential: a, Status: 429, RetryAfter: "1", Times: 1, Headers: map[string]string{
		"anthropic-ratelimit-unified-status":    "rejected",
		"anthropic-ratelimit-unified-reset":     strconv.FormatInt(reset.Add(time.Second-1).Unix(), 10),
		"anthropic-ratelimit-unified-5h-status": "rejected",
		"anthropic-ratelimit-unified-5h-reset":  strconv.FormatInt(reset.Add(time.Second-1).Unix(), 10),
	}})
	for i := 0; e.fake.CountBy(a) == 0; i++ {
		if i == 2 {
			t.Fatal("round robin never reached the first credential")
		}
		if r := e.do("POST", "/p/v1/messages", xAPIKey(key), messagesBody); r.status != 200 {
			t.Fatalf("request %d: %d %s (the 429 should have been retried on the other credential)", i, r.status, r.body)
		}
	}
	windows := e.px.Health().Status(creds[0]).Quota
	if len(windows) != 2 || !windows[0].Exhausted {
		t.Fatalf("a's windows after the 429: %+v", windows)
	}
	time.Sleep(1100 * time.Millisecond) // Retry-After is over; the window is not
	for time.Now().Before(windows[0].Reset.Add(-200 * time.Millisecond)) {
		if r := e.do("POST", "/p/v1/messages", xAPIKey(key), messagesBody); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if n := e.fake.CountBy(a); n != 1 {
			t.Fatalf("a was tried again %v before its window's reset", time.Until(windows[0].Reset))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Until(windows[0].Reset) + 50*time.Millisecond)
	for range 4 {
		if r := e.do("POST", "/p/v1/messages", xAPIKey(key), messagesBody); r.status != 200 {
			t.Fatalf("after the reset: %d %s", r.status, r.body)
		}
	}
	if e.fake.CountBy(a) < 2 || e.px.Health().Status(creds[0]).State != "healthy" {
		t.Fatalf("a not back after its window reset: %d requests, %+v", e.fake.CountBy(a), e.px.Health().Status(creds[0]))
	}
}
